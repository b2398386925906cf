"""The kernel: what every other part of opsn stands on, and which imports none of them.

The commune entered and its database (``tenancy``, ``routers``), the shape of every refusal
(``errors``), amounts (``money``), who acts (``actors``) and what the current request or
job is about (``context``), the registry's signals to the commune apps (``signals``) and
the platform's metrics (``metrics``). The job broker is the app ``opsn.jobs``, one layer
up. The import contract "Layers" in pyproject.toml keeps the kernel at the bottom.
"""
