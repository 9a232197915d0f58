// Package servingv1alpha1 holds the 2018 forms of Knative serving, group serving.knative.dev,
// version v1alpha1: a Service in one of the modes runLatest, release, pinned or manual; a
// Configuration whose spec.revisionTemplate.spec holds one container (spec.container); a Revision
// of that shape; and a Route whose traffic targets are named with spec.traffic[].name.
//
// These types are only decoded and checked here. The registry serves them as the v1alpha1
// version of the serving.knative.dev kinds, and package serving converts them to v1 on admission
// (serving.ServiceFromV1alpha1 and its siblings), so that every serving object is stored, read
// and reconciled as v1. Nothing is stored in these shapes.
//
// Validate methods check what only the 2018 shape can get wrong (one mode, release's revisions
// and rolloutPercent, a build, a concurrency model, a serving state), with paths naming the
// fields the user wrote. Package serving adds the v1 rules (image required, timeouts, ports,
// autoscaling annotations, ...) on the converted template with those paths rewritten to the
// 2018 fields.
//
// Not accepted: spec.manual (as in Knative, manual mode cannot be converted to v1: create the
// Configuration and Route yourself); a configuration's spec.build and a revision's
// spec.buildName (Knative Build is gone: build the image first and name it in the container);
// the 2019 v1alpha1 shape with spec.template and spec.traffic inline (write apiVersion
// serving.knative.dev/v1 for it). status, generation and servingState are accepted and ignored:
// they were written by the 2018 controllers.
package servingv1alpha1
