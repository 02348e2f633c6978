"""A generic Deployment-plus-Service unit library: `ServiceDeployment` and `ServiceStatefulSet`
on one `Unit` base, their arguments and value types, and the pod template they share. Nothing
here knows the voting app."""
