"""The widget outside the kernel: figures a view draws and sends back (``figure.py``) and the
self-contained offline page (``page.py``, twin of ``js/export/standalone.ts``)."""
