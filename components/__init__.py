"""The voting app as Pulumi components, in layers that import only downward:

- `units`: a generic Deployment-plus-Service library (args, specs, pod template, the unit
  components, labels, metadata, endpoints), nothing of the voting app in it;
- `cluster`: which cluster a stack targets, and its provider;
- `app`: the voting app on those two (`VotingApp`, its traffic graph, the database's settings and
  clients, the namespace's footprint);
- `stack`: the stack config, read and validated into the app's and the cluster's arguments.

tests/test_layers.py holds every module to its layer.
"""
