# ailfm co-simulation image: the gem5 project's published devcontainer (a prebuilt gem5 v24.0 "ALL" build with
# Ruby MESI_Two_Level, at /usr/local/bin/gem5) plus this project installed for gem5's embedded Python.
#
#   docker build -t ailfm .
#   docker run --rm -v "$PWD/out:/out" ailfm ailfm simulate --system snuca-64 --governor ail --out /out/builtin
#   docker run --rm -v "$PWD/out:/out" ailfm gem5 /opt/ailfm/gem5_configs/run_ailfm.py --system snuca-64 --workload llama-2-7b --governor ail --epochs 20 --window-us 50 --out /out/gem5
FROM ghcr.io/gem5/devcontainer:v24-0

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV GEM5=/usr/local/bin/gem5 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLBACKEND=Agg

WORKDIR /opt/ailfm
COPY pyproject.toml setup.cfg README.md ./
COPY ailfm ./ailfm
COPY thermal ./thermal
COPY plugins ./plugins
COPY traces ./traces
COPY mapping ./mapping
COPY gem5_configs ./gem5_configs

# gem5 embeds the image's system Python, so ailfm goes into that interpreter's site-packages.
RUN python3 -m pip install --no-cache-dir --break-system-packages '.[all]'

WORKDIR /work
CMD ["ailfm", "--help"]
