package process

// LimitsReason returns why r does not enforce limits, for tests.
func LimitsReason(r *Runtime) string { return r.cgWhy }

// CgroupRoot returns the directory of r's instance cgroups, for tests.
func CgroupRoot(r *Runtime) string { return r.cg.root }
