"""The 3D mesh as a Garnet network, built from ``Mesh3D`` data (runs only inside gem5.opt).

A stdlib-style network (as ``SimplePt2Pt`` is for the stdlib Ruby hierarchies): the hierarchy creates it, hands it
the controllers grouped by kind, and it makes one ``GarnetRouter`` per tile, one ``GarnetIntLink`` per directed mesh
link (latency and weight from the data; weights 1/2/3 give XYZ dimension-order routing under table routing), one
``GarnetExtLink`` per controller to the router of its tile, and one network interface per external link. All links
have the same width, so no clock-domain crossing or SerDes bridge is needed.
"""

from __future__ import annotations

from m5.objects import GarnetExtLink, GarnetIntLink, GarnetNetwork, GarnetNetworkInterface, GarnetRouter

from ailfm.gem5_configs.topologies.mesh3d import Mesh3D

WEIGHT_TABLE_ROUTING = 0  # GarnetNetwork.routing_algorithm: "0: Weight-based Table"


class Mesh3DGarnetNetwork(GarnetNetwork):
    """Garnet on the project's 3D mesh; ``connect_controllers`` wires L1s, LLC banks and directories to tiles."""

    def __init__(self, ruby_system, mesh: Mesh3D, number_of_virtual_networks: int):
        super().__init__()
        self.ruby_system = ruby_system
        self.number_of_virtual_networks = number_of_virtual_networks
        self.routing_algorithm = WEIGHT_TABLE_ROUTING
        self.ni_flit_size = mesh.flit_bytes
        self.num_rows = 0  # only the hard-coded 2D XY routing reads it
        self._mesh = mesh
        self.netifs = []

    def connect_controllers(self, l1s: list, banks: list, directories: list, others: list = ()) -> None:
        """Attach every controller to the router of its tile and build the mesh (call once, before setup)."""
        mesh = self._mesh
        if (len(l1s), len(banks), len(directories)) != (len(mesh.l1_router), len(mesh.bank_router),
                                                         len(mesh.directory_router)):
            raise ValueError(f"the mesh places {len(mesh.l1_router)} L1s, {len(mesh.bank_router)} banks and "
                             f"{len(mesh.directory_router)} directories; got {len(l1s)}, {len(banks)}, "
                             f"{len(directories)}")
        self.routers = [GarnetRouter(router_id=i, latency=mesh.router_latency_cycles)
                        for i in range(mesh.n_routers)]
        self.int_links = [
            GarnetIntLink(link_id=link.link_id, src_node=self.routers[link.src], dst_node=self.routers[link.dst],
                          src_outport=link.src_outport, dst_inport=link.dst_inport, latency=link.latency_cycles,
                          weight=link.weight)
            for link in mesh.links
        ]
        placed = ([(c, int(r)) for c, r in zip(l1s, mesh.l1_router, strict=True)]
                  + [(c, int(r)) for c, r in zip(banks, mesh.bank_router, strict=True)]
                  + [(c, int(r)) for c, r in zip(directories, mesh.directory_router, strict=True)]
                  + [(c, 0) for c in others])  # DMA controllers, if any, sit at router 0 as in Mesh_XY
        self.ext_links = [
            GarnetExtLink(link_id=len(mesh.links) + i, ext_node=controller, int_node=self.routers[router],
                          latency=mesh.ext_link_latency_cycles)
            for i, (controller, router) in enumerate(placed)
        ]
        self.netifs = [GarnetNetworkInterface(id=i) for i in range(len(self.ext_links))]
