"""(see the package docstring of specaccel)"""
