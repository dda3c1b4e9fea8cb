"""The HTTP layer of ``/api/v1``: one file per URL module, plus the shared pipeline."""
