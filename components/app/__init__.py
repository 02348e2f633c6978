"""The voting app on the unit library: `VotingApp`, the declared traffic graph, the database's
settings and the clients it admits, and the namespace's footprint (quota and limits)."""
