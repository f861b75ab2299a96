"""Analysis of simulation results: reports (:mod:`.report`) and plots (:mod:`.plots`).

(Sweeps, the results store and Pareto fronts join this package in later issues.)
"""
