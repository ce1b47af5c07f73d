# ailfm co-simulation image: the gem5 project's published devcontainer (Ubuntu 24.04 with Python 3.12, and a prebuilt
# gem5 v24.0 "ALL" build, Ruby MESI_Two_Level, at /usr/local/bin/gem5) plus this project in a venv whose
# site-packages gem5's embedded Python is given through PYTHONPATH. Outputs go to the mounted /out (the working
# folder, so gem5's default m5out lands there too).
#
#   docker build -t ailfm .
#   docker run --rm -v "$PWD/out:/out" ailfm ailfm simulate --system snuca-64 --governor ail --out /out/builtin
#   docker run --rm -v "$PWD/out:/out" ailfm gem5 -d /out/m5out-ail /opt/ailfm/gem5_configs/run_ailfm.py --system snuca-64 --workload llama-2-7b --governor ail --epochs 20 --window-us 50 --out /out/gem5-ail
FROM ghcr.io/gem5/devcontainer:v24-0

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# The devcontainer's Python (/usr/bin/python3, 3.12) is the one its gem5 embeds; it has python3-venv but no pip.
ENV GEM5=/usr/local/bin/gem5 \
    PATH=/opt/ailfm/.venv/bin:$PATH \
    PYTHONPATH=/opt/ailfm/.venv/lib/python3.12/site-packages \
    AILFM_SITE_PACKAGES=/opt/ailfm/.venv/lib/python3.12/site-packages \
    MPLBACKEND=Agg

WORKDIR /opt/ailfm
COPY pyproject.toml setup.cfg README.md ./
COPY ailfm ./ailfm
COPY thermal ./thermal
COPY plugins ./plugins
COPY traces ./traces
COPY mapping ./mapping
COPY gem5_configs ./gem5_configs
COPY scripts/install-into.sh ./scripts/install-into.sh

# The same script a test runs on every CI run; with GEM5 set it also imports ailfm inside gem5's interpreter.
RUN PYTHON=/usr/bin/python3 PIP_NO_CACHE_DIR=1 ./scripts/install-into.sh /opt/ailfm/.venv /opt/ailfm \
    && test -d "$PYTHONPATH"

WORKDIR /out
VOLUME /out
CMD ["ailfm", "--help"]
