"""The legacy dispatcher (``/server/panda/<function>``) that pilot3 still calls, and the files a
pilot fetches besides it (payload scripts, info-system documents). See docs/pilot-legacy.md.

* :mod:`.registry` — one declaration per legacy function, ``Protocol.Response``, status codes;
* :mod:`.wire` — request decoding (gzip JSON without Content-Encoding, forms, query strings);
* :mod:`.pipeline` — the WSGI view: journal, faults, identity, encoding;
* :mod:`.dispatcher` — the functions, each on the engine call of its v1 counterpart;
* :mod:`.files` — ``/trf/user/<script>``, ``/cache/schedconfig/*.json``, ``/cache/ddmendpoints.json``.
"""
