"""gem5 stdlib-style components of the AILFM system (S-NUCA Ruby hierarchy, trace-driven tiles, board, memory).

Every module here imports ``m5``/``gem5`` and runs only inside gem5.opt; this package file imports none of them, so
``import ailfm.gem5_configs.components`` works anywhere.
"""
