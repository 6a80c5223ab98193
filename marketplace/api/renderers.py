"""The browsable API's HTML page, with the product's name and its links in the reader's
language."""

from __future__ import annotations

from rest_framework.renderers import BrowsableAPIRenderer as DrfBrowsableAPIRenderer


class BrowsableAPIRenderer(DrfBrowsableAPIRenderer):
    """DRF's browsable API on a template whose own words are translated."""

    template = "browsable_api/api.html"
