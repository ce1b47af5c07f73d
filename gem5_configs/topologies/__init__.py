"""NoC topologies of the gem5 configs: the 3D mesh as plain data (``mesh3d``, importable anywhere) and its Garnet
construction (``garnet_mesh3d``, imported only inside gem5.opt)."""

from ailfm.gem5_configs.topologies.mesh3d import Mesh3D, MeshLink, mesh3d

__all__ = ["Mesh3D", "MeshLink", "mesh3d"]
