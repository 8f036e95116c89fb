"""What travels between the kernel and the page: messages and payload headers (``protocol.py``,
``payloads.py``), the dec3 number code (``dec3.py``) and token axes (``axis.py``). Each file has a twin in
``js/wire/``: a message change is a change in both folders."""
