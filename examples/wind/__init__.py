"""The wind example: real surface winds as tangent vector fields on HEALPix.

``data``: the committed default data set and a loader for lat-lon NetCDF files;
``targets``: vorticity and divergence from spin-1 spherical harmonics;
``make_data``: the script that regenerates the committed data set.
"""
