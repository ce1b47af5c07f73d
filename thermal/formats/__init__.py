"""Readers and writers of HotSpot's plain-file formats: .flp .ptrace .ttrace .steady/.init .lcf .config .materials."""
