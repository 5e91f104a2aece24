"""ryu-kovn: a BGP speaker for kube-ovn clusters, as a Ryu application.

Keep this module import-free: ``ryu_kovn_startup.pth`` imports the package at
every interpreter start in the environment it is installed in.
"""
