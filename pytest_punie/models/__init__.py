"""Model artifacts: resolution of ``--punie-model``, content-addressed builds,
validation of model directories."""
