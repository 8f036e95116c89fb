"""Images as tokens: where each position of a vision model's attention comes from in the pictures.

``geometry.py`` follows a picture through resizing, cropping, padding and tiling exactly;
``layout.py`` holds the result (an ``ImageToken`` per position); one module per model family says
how its processor and model turn pixels into tokens (``families.py`` chooses); ``capture.py`` runs
the model and builds the ``Capture``.
"""
