//! Jobs on a cluster (filled in with the cluster job queue).
