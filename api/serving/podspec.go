package serving

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// allowedPodSpecFields are the pod spec fields a revision may set: Knative's defaults, without
// its feature-flagged ones.
var allowedPodSpecFields = map[string]bool{
	"containers": true, "volumes": true, "serviceAccountName": true, "imagePullSecrets": true,
	"enableServiceLinks": true, "automountServiceAccountToken": true,
}

// allowedContainerFields are the container fields a revision may set, as Knative allows.
var allowedContainerFields = map[string]bool{
	"name": true, "image": true, "command": true, "args": true, "workingDir": true, "ports": true,
	"env": true, "envFrom": true, "resources": true, "volumeMounts": true, "livenessProbe": true,
	"readinessProbe": true, "startupProbe": true, "terminationMessagePath": true,
	"terminationMessagePolicy": true, "imagePullPolicy": true, "securityContext": true,
}

// reservedMountPaths may not be mounted over, as in Knative.
var reservedMountPaths = map[string]bool{"/": true, "/dev": true, "/dev/log": true, "/tmp": true, "/var": true, "/var/log": true}

// setFields returns the JSON names of the fields v sets, sorted.
func setFields(v any) []string {
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	var out []string
	for k, raw := range m {
		if string(raw) != "null" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// validatePodSpecFields forbids the pod spec fields a revision may not set.
func validatePodSpecFields(p *field.Path, ps *corev1.PodSpec) field.ErrorList {
	var errs field.ErrorList
	for _, f := range setFields(ps) {
		if !allowedPodSpecFields[f] {
			errs = append(errs, field.Forbidden(p.Child(f), "a revision may not set this pod spec field (Knative allows containers, volumes, serviceAccountName, imagePullSecrets, enableServiceLinks and automountServiceAccountToken)"))
		}
	}
	if ps.ServiceAccountName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(ps.ServiceAccountName) {
			errs = append(errs, field.Invalid(p.Child("serviceAccountName"), ps.ServiceAccountName, msg))
		}
	}
	for i, s := range ps.ImagePullSecrets {
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	return errs
}

// validateVolumes checks volume names (DNS labels, unique) and sources (exactly one of
// configMap, secret, projected and emptyDir) and returns the volumes by name.
func validateVolumes(p *field.Path, volumes []corev1.Volume) (map[string]*corev1.Volume, field.ErrorList) {
	var errs field.ErrorList
	byName := map[string]*corev1.Volume{}
	for i := range volumes {
		v := &volumes[i]
		vp := p.Index(i)
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(vp.Child("name"), ""))
		case byName[v.Name] != nil:
			errs = append(errs, field.Duplicate(vp.Child("name"), v.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				errs = append(errs, field.Invalid(vp.Child("name"), v.Name, msg))
			}
			byName[v.Name] = v
		}
		var sources []string
		for _, f := range setFields(v.VolumeSource) {
			switch f {
			case "configMap", "secret", "projected", "emptyDir":
				sources = append(sources, f)
			default:
				errs = append(errs, field.Forbidden(vp.Child(f), "a revision's volumes may be configMap, secret, projected or emptyDir"))
			}
		}
		if len(sources) == 0 && len(setFields(v.VolumeSource)) == 0 {
			errs = append(errs, field.Required(vp, "set one of configMap, secret, projected or emptyDir"))
		}
		for _, extra := range sources[min(1, len(sources)):] {
			errs = append(errs, field.Forbidden(vp.Child(extra), fmt.Sprintf("a volume has exactly one source (%s is set)", sources[0])))
		}
		if v.ConfigMap != nil && v.ConfigMap.Name == "" {
			errs = append(errs, field.Required(vp.Child("configMap", "name"), ""))
		}
		if v.Secret != nil && v.Secret.SecretName == "" {
			errs = append(errs, field.Required(vp.Child("secret", "secretName"), ""))
		}
	}
	return byName, errs
}

// validateContainer checks one container at p.
func validateContainer(p *field.Path, c *corev1.Container, volumes map[string]*corev1.Volume) field.ErrorList {
	var errs field.ErrorList
	for _, f := range setFields(c) {
		if !allowedContainerFields[f] {
			errs = append(errs, field.Forbidden(p.Child(f), "a revision's container may not set this field"))
		}
	}
	if c.Name != "" {
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), c.Name, msg))
		}
	}
	switch {
	case c.Image == "":
		errs = append(errs, field.Required(p.Child("image"), "the container image to run"))
	case strings.ContainsAny(c.Image, " \t\r\n"):
		errs = append(errs, field.Invalid(p.Child("image"), c.Image, "must not contain white space"))
	}
	switch c.ImagePullPolicy {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		errs = append(errs, field.NotSupported(p.Child("imagePullPolicy"), c.ImagePullPolicy,
			[]corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}))
	}
	if c.WorkingDir != "" && !path.IsAbs(c.WorkingDir) {
		errs = append(errs, field.Invalid(p.Child("workingDir"), c.WorkingDir, "must be an absolute path"))
	}
	port := DefaultUserPort
	errs = append(errs, validatePorts(p.Child("ports"), c.Ports, &port)...)
	errs = append(errs, validateEnv(p, c)...)
	errs = append(errs, validateResources(p.Child("resources"), &c.Resources)...)
	for _, pr := range []struct {
		name  string
		probe *corev1.Probe
	}{{"readinessProbe", c.ReadinessProbe}, {"livenessProbe", c.LivenessProbe}, {"startupProbe", c.StartupProbe}} {
		errs = append(errs, validateProbe(p.Child(pr.name), pr.probe, port, c.Ports)...)
	}
	errs = append(errs, validateMounts(p.Child("volumeMounts"), c.VolumeMounts, volumes)...)
	return errs
}

// validatePorts checks the container's ports (at most one: the port it serves on) and
// stores the port in *port.
func validatePorts(p *field.Path, ports []corev1.ContainerPort, port *int32) field.ErrorList {
	var errs field.ErrorList
	for i := 1; i < len(ports); i++ {
		errs = append(errs, field.Forbidden(p.Index(i), "more than one container port is set: a revision serves on one port"))
	}
	if len(ports) == 0 {
		return errs
	}
	cp := ports[0]
	pp := p.Index(0)
	switch {
	case cp.ContainerPort == 0:
	case cp.ContainerPort < 0 || cp.ContainerPort > 65535:
		errs = append(errs, field.Invalid(pp.Child("containerPort"), cp.ContainerPort, "must be between 1 and 65535"))
	case reservedPorts[cp.ContainerPort]:
		errs = append(errs, field.Invalid(pp.Child("containerPort"), cp.ContainerPort, "is reserved by Knative (8012, 8013, 8022, 9090 and 9091)"))
	default:
		*port = cp.ContainerPort
	}
	switch cp.Name {
	case "", "http1", "h2c":
	default:
		errs = append(errs, field.NotSupported(pp.Child("name"), cp.Name, []string{"http1", "h2c"}))
	}
	if cp.Protocol != "" && cp.Protocol != corev1.ProtocolTCP {
		errs = append(errs, field.NotSupported(pp.Child("protocol"), cp.Protocol, []corev1.Protocol{corev1.ProtocolTCP}))
	}
	if cp.HostPort != 0 {
		errs = append(errs, field.Forbidden(pp.Child("hostPort"), "a revision may not bind a host port"))
	}
	if cp.HostIP != "" {
		errs = append(errs, field.Forbidden(pp.Child("hostIP"), "a revision may not bind a host address"))
	}
	return errs
}

// validateEnv checks env and envFrom: names, and values from a ConfigMap or Secret key only.
func validateEnv(p *field.Path, c *corev1.Container) field.ErrorList {
	var errs field.ErrorList
	for i, e := range c.Env {
		ep := p.Child("env").Index(i)
		if e.Name == "" {
			errs = append(errs, field.Required(ep.Child("name"), ""))
		} else {
			for _, msg := range validation.IsEnvVarName(e.Name) {
				errs = append(errs, field.Invalid(ep.Child("name"), e.Name, msg))
			}
		}
		if e.ValueFrom == nil {
			continue
		}
		vp := ep.Child("valueFrom")
		if e.Value != "" {
			errs = append(errs, field.Invalid(vp, "", "may not be set with value"))
		}
		var from []string
		for _, f := range setFields(e.ValueFrom) {
			switch f {
			case "configMapKeyRef", "secretKeyRef":
				from = append(from, f)
			default:
				errs = append(errs, field.Forbidden(vp.Child(f), "a revision's environment may come from a configMapKeyRef or a secretKeyRef"))
			}
		}
		if len(from) > 1 {
			errs = append(errs, field.Forbidden(vp.Child(from[1]), "set one of configMapKeyRef and secretKeyRef"))
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil && (r.Name == "" || r.Key == "") {
			errs = append(errs, field.Required(vp.Child("configMapKeyRef"), "name and key are required"))
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil && (r.Name == "" || r.Key == "") {
			errs = append(errs, field.Required(vp.Child("secretKeyRef"), "name and key are required"))
		}
		if len(from) == 0 && len(setFields(e.ValueFrom)) == 0 {
			errs = append(errs, field.Required(vp, "set configMapKeyRef or secretKeyRef"))
		}
	}
	for i, e := range c.EnvFrom {
		ep := p.Child("envFrom").Index(i)
		switch {
		case e.ConfigMapRef == nil && e.SecretRef == nil:
			errs = append(errs, field.Required(ep, "set configMapRef or secretRef"))
		case e.ConfigMapRef != nil && e.SecretRef != nil:
			errs = append(errs, field.Forbidden(ep.Child("secretRef"), "set one of configMapRef and secretRef"))
		case e.ConfigMapRef != nil && e.ConfigMapRef.Name == "":
			errs = append(errs, field.Required(ep.Child("configMapRef", "name"), ""))
		case e.SecretRef != nil && e.SecretRef.Name == "":
			errs = append(errs, field.Required(ep.Child("secretRef", "name"), ""))
		}
		if e.Prefix != "" {
			for _, msg := range validation.IsEnvVarName(e.Prefix) {
				errs = append(errs, field.Invalid(ep.Child("prefix"), e.Prefix, msg))
			}
		}
	}
	return errs
}

// validateResources checks that no quantity is negative and that requests do not exceed
// limits.
func validateResources(p *field.Path, r *corev1.ResourceRequirements) field.ErrorList {
	var errs field.ErrorList
	for _, set := range []struct {
		name string
		list corev1.ResourceList
	}{{"limits", r.Limits}, {"requests", r.Requests}} {
		for name, q := range set.list {
			if q.Sign() < 0 {
				errs = append(errs, field.Invalid(p.Child(set.name).Key(string(name)), q.String(), "must not be negative"))
			}
		}
	}
	for name, req := range r.Requests {
		if lim, ok := r.Limits[name]; ok && req.Cmp(lim) > 0 {
			errs = append(errs, field.Invalid(p.Child("requests").Key(string(name)), req.String(),
				fmt.Sprintf("must be less than or equal to the %s limit (%s)", name, lim.String())))
		}
	}
	if len(r.Claims) > 0 {
		errs = append(errs, field.Forbidden(p.Child("claims"), "a revision may not claim dynamic resources"))
	}
	return errs
}

// validateProbe checks a probe: at most one handler, non-negative settings, and a port that
// is the container's (or unset, meaning the container's).
func validateProbe(p *field.Path, pr *corev1.Probe, port int32, ports []corev1.ContainerPort) field.ErrorList {
	if pr == nil {
		return nil
	}
	var errs field.ErrorList
	var handlers []string
	if pr.Exec != nil {
		handlers = append(handlers, "exec")
	}
	if pr.HTTPGet != nil {
		handlers = append(handlers, "httpGet")
	}
	if pr.TCPSocket != nil {
		handlers = append(handlers, "tcpSocket")
	}
	if pr.GRPC != nil {
		handlers = append(handlers, "grpc")
	}
	for _, h := range handlers[min(1, len(handlers)):] {
		errs = append(errs, field.Forbidden(p.Child(h), fmt.Sprintf("a probe has one handler (%s is set)", handlers[0])))
	}
	for _, n := range []struct {
		name string
		v    int32
	}{{"initialDelaySeconds", pr.InitialDelaySeconds}, {"timeoutSeconds", pr.TimeoutSeconds}, {"periodSeconds", pr.PeriodSeconds},
		{"successThreshold", pr.SuccessThreshold}, {"failureThreshold", pr.FailureThreshold}} {
		if n.v < 0 {
			errs = append(errs, field.Invalid(p.Child(n.name), n.v, "must not be negative"))
		}
	}
	if pr.TerminationGracePeriodSeconds != nil {
		errs = append(errs, field.Forbidden(p.Child("terminationGracePeriodSeconds"), "a revision's probe may not set it"))
	}
	checkPort := func(pp *field.Path, v int32, name string) {
		switch {
		case name != "" && (len(ports) == 0 || ports[0].Name != name):
			errs = append(errs, field.Invalid(pp, name, "must name the container's port, or be unset"))
		case name == "" && v != 0 && v != port:
			errs = append(errs, field.Invalid(pp, v, fmt.Sprintf("a probe may only probe the container's port (%d): leave it unset", port)))
		}
	}
	if h := pr.HTTPGet; h != nil {
		checkPort(p.Child("httpGet", "port"), h.Port.IntVal, h.Port.StrVal)
		if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
			errs = append(errs, field.Invalid(p.Child("httpGet", "path"), h.Path, `must start with "/"`))
		}
		switch h.Scheme {
		case "", corev1.URISchemeHTTP, corev1.URISchemeHTTPS:
		default:
			errs = append(errs, field.NotSupported(p.Child("httpGet", "scheme"), h.Scheme, []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}))
		}
		if h.Host != "" {
			errs = append(errs, field.Forbidden(p.Child("httpGet", "host"), "a probe reaches the instance itself"))
		}
	}
	if t := pr.TCPSocket; t != nil {
		checkPort(p.Child("tcpSocket", "port"), t.Port.IntVal, t.Port.StrVal)
		if t.Host != "" {
			errs = append(errs, field.Forbidden(p.Child("tcpSocket", "host"), "a probe reaches the instance itself"))
		}
	}
	if g := pr.GRPC; g != nil {
		checkPort(p.Child("grpc", "port"), g.Port, "")
	}
	if e := pr.Exec; e != nil && len(e.Command) == 0 {
		errs = append(errs, field.Required(p.Child("exec", "command"), ""))
	}
	return errs
}

// validateMounts checks volume mounts: a declared volume, an absolute, unique, unreserved
// path.
func validateMounts(p *field.Path, mounts []corev1.VolumeMount, volumes map[string]*corev1.Volume) field.ErrorList {
	var errs field.ErrorList
	paths := map[string]bool{}
	for i, m := range mounts {
		mp := p.Index(i)
		switch {
		case m.Name == "":
			errs = append(errs, field.Required(mp.Child("name"), ""))
		case volumes[m.Name] == nil:
			errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
		}
		clean := path.Clean(m.MountPath)
		switch {
		case m.MountPath == "":
			errs = append(errs, field.Required(mp.Child("mountPath"), ""))
		case !path.IsAbs(m.MountPath):
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be an absolute path"))
		case reservedMountPaths[clean]:
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "is a reserved path"))
		case paths[clean]:
			errs = append(errs, field.Duplicate(mp.Child("mountPath"), m.MountPath))
		}
		paths[clean] = true
		if strings.Contains(m.SubPath, "..") || path.IsAbs(m.SubPath) {
			errs = append(errs, field.Invalid(mp.Child("subPath"), m.SubPath, "must be a relative path without '..'"))
		}
		if m.MountPropagation != nil || m.SubPathExpr != "" || m.RecursiveReadOnly != nil {
			errs = append(errs, field.Forbidden(mp, "a revision's mount may set name, mountPath, readOnly and subPath"))
		}
	}
	return errs
}
