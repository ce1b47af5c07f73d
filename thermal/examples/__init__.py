"""Example inputs shipped with ailfm: ``snuca64_demo.yaml`` is the 3D case ``ailfm demo`` (``make run``) solves."""
