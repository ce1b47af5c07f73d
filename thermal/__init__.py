"""HotSpot-compatible thermal modelling (AILFM pipeline: power -> thermal).

File formats live in ``formats/``; the RC networks of HotSpot's block and grid models in
``block.py`` and ``grid.py``; the solvers and the co-simulation API (``ThermalModel.step``) in
``model.py``; the real-HotSpot backend in ``hotspot_backend.py``; ``ailfm-hotspot`` in ``hotspot_cli.py``.
"""
