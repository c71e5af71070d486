"""The wind example: real surface winds as tangent vector fields on HEALPix.

``python -m examples.wind`` (``__main__``) trains and evaluates the models and prints the summary.

``data``: the committed default data set and a loader for lat-lon NetCDF files;
``targets``: vorticity and divergence from spin-1 spherical harmonics;
``make_data``: the script that regenerates the committed data set;
``models``: the equivariant and baseline networks; ``train``: training loops; ``evaluate``: errors on
the test years, also on rotated globes; ``plots``: the figures.
"""
