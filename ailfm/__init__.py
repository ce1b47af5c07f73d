"""ailfm: thermal-aware LLM inference scheduling on 3D S-NUCA many-cores, and Compass mapping exploration.

The top-level folders of the repository are the subpackages of this import root:

- ``thermal/``      -> ``ailfm.thermal``       HotSpot-compatible thermal models and file formats
- ``plugins/``      -> ``ailfm.plugins``       engine, governors and the co-simulation loop
- ``traces/``       -> ``ailfm.traces``        LLM inference workloads as kernel traces
- ``mapping/``      -> ``ailfm.mapping``       Compass: multi-chiplet mapping and hardware exploration
- ``gem5_configs/`` -> ``ailfm.gem5_configs``  gem5 configuration scripts and the system descriptions
"""

__version__ = "0.1.0"
