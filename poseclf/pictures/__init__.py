"""Stage 2, pictures: drawings of poses and their labels, figures and contact sheets.

``draw`` (skeleton, label and counter overlays on a frame, the 3D plot of a pose), ``plots``
(matplotlib figures: confusion matrices), ``sheets`` (contact sheets of landmark-table rows) and
``detect`` (the library side of ``poseclf detect``: poses found in photos, drawn and saved).
May import: :mod:`poseclf.pose`, :mod:`poseclf.errors` and :mod:`poseclf.files`; it comes right
after pose because the later stages (classify, tables, video) all draw. This ``__init__`` imports
nothing, so importing one stage does not import the others.
"""
