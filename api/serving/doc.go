// Package serving holds the kinds of Knative's serving.knative.dev group: Service,
// Configuration, Revision and Route, with their defaulting, validation, conditions and
// columns. Their JSON shapes are Knative's v1, so Knative YAML decodes strictly into them.
//
// # Versions
//
// Objects are stored as v1. v1beta1 has v1's schema and is served as is. v1alpha1 is the 2018
// API (package servingv1alpha1): a Service in runLatest, release or pinned mode, a
// Configuration with spec.revisionTemplate and one spec.container, a Route whose targets have
// a name. It is checked with the paths the user wrote and converted to v1 on admission
// (ServiceFromV1alpha1, ConfigurationFromV1alpha1, RevisionFromV1alpha1, RouteFromV1alpha1),
// as Knative converted it: runLatest routes 100% to the latest revision; release [a, b] with
// rolloutPercent p sends 100-p to a (tag "current") and p to b (tag "candidate"), plus a 0%
// target tagged "latest" that follows the latest ready revision; pinned sends 100% to its
// revisionName; manual is rejected, as Knative could not convert it either.
//
// # Defaults
//
// Knative's: a revision's timeoutSeconds is 300 (also when 0), containerConcurrency 0
// (unlimited), its container is named "user-container", serves on port 8080 unless it declares
// another, and gets a TCP readiness probe of that port (successThreshold 1) when it has no
// probe handler; configMap, secret and projected volumes are mounted read-only. A Service's
// empty traffic becomes [{latestRevision: true, percent: 100}], and every traffic target's
// latestRevision defaults to revisionName == "". A Route's empty traffic stays empty and is
// rejected: as in Knative, only a Service has a configuration for a default target.
//
// # Validation
//
// As Knative's webhook, with field paths:
//   - names of all four kinds are DNS-1035 labels (they become host names);
//   - a revision has exactly one container: Eddy's runtime runs one container per revision
//     instance, so Knative's multi-container revisions are rejected. Its image is required;
//     only the pod spec and container fields Knative allows by default may be set; at most one
//     port (1-65535, not Knative's reserved 8012, 8013, 8022, 9090, 9091; name "", http1 or
//     h2c); probes probe that port; env values come from literals, ConfigMap or Secret keys;
//     volumes are configMap, secret, projected or emptyDir and each is mounted;
//   - 0 < timeoutSeconds ≤ 600, 0 ≤ containerConcurrency ≤ 1000, responseStartTimeoutSeconds
//     at most timeoutSeconds;
//   - spec.template.metadata.name, when set, is prefixed "{service}-" (or "{configuration}-");
//     a template whose content changes must change its name too (ValidateUpdate);
//   - traffic percents sum to 100 (the error names spec.traffic); a Route's target names
//     exactly one of revisionName and configurationName, a Service's target a revisionName or
//     latestRevision: true (never a configurationName); latestRevision agrees with
//     revisionName; tags are unique DNS labels; url is status only;
//   - autoscaling.knative.dev/ annotations are parsed with Knative's rules on the template's
//     metadata and on a Revision (ParseAutoscaling), and rejected on a Service's,
//     Configuration's or Route's own metadata; an unknown autoscaling key is rejected;
//   - a Revision's spec is immutable.
//
// Revisions created by a Configuration are named RevisionName(configuration, generation):
// "hello-00001".
//
// # Conditions
//
// Service: Ready follows ConfigurationsReady and RoutesReady (PropagateConfigurationStatus,
// PropagateRouteStatus). Route: Ready follows AllTrafficAssigned and IngressReady (Eddy's
// router). Configuration: Ready alone, True when the latest created revision is the latest
// ready one. Revision: Ready follows ResourcesAvailable and ContainerHealthy; Active (the
// revision has instances) is reported besides and is not part of Ready, as in Knative. A
// Revision's status also carries actualReplicas and desiredReplicas.
package serving
