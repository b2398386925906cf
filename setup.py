"""One import namespace, two source folders.

``opsn`` is a namespace package (PEP 420) with two halves: ``platform/opsn/`` (the Django
project and the public schema's apps) and ``tenants/opsn/`` (the apps in every commune's
schema). setuptools' ``packages.find`` maps a package to one folder only, so the two
halves are mapped here, app by app: each app found under either folder is mapped to its
own directory. Everything else (name, dependencies, tools) is in pyproject.toml.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).parent
HALVES = ("platform", "tenants")

packages = ["opsn"]
package_dir = {"opsn": "platform/opsn"}
for half in HALVES:
    for package in find_namespace_packages(str(HERE / half), include=["opsn.*"]):
        if not (HERE / half / package.replace(".", "/") / "__init__.py").exists():
            continue  # templates, static files, data: package data, not packages
        packages.append(package)
        if package.count(".") == 1:
            package_dir[package] = f"{half}/{package.replace('.', '/')}"

setup(packages=packages, package_dir=package_dir)
