// Package autoscaler is Eddy's request-driven autoscaler: Knative's KPA (Knative Pod
// Autoscaler) algorithm, as pure decision logic plus the metric collector that feeds it.
//
// # Pieces
//
//   - Config is the cluster-wide config-autoscaler ConfigMap (ConfigFromMap parses it with
//     Knative's keys and defaults).
//   - RevisionSettings are one revision's resolved parameters: Config merged with the
//     revision's autoscaling.knative.dev annotations (ParseAnnotations → Overrides) and its
//     containerConcurrency, by NewRevisionSettings.
//   - Collector keeps each revision's per-second series of concurrency and requests per
//     second and averages them over the stable and panic windows. It samples the router's
//     counters (a StatsFunc such as (*router.Router).Stats) on a ticker from its Clock.
//   - Autoscaler is one revision's decider: Scale(now, readyInstances) returns a Decision
//     whose DesiredScale the reconciler applies, and whose ActivatorInPath and
//     ExcessBurstCapacity tell the data plane whether to keep buffering requests.
//
// # Wiring
//
//	cfg, _ := autoscaler.ConfigFromMap(configMap.Data)
//	cfg.Registerer = prometheus.DefaultRegisterer
//	col := autoscaler.NewCollector(autoscaler.CollectorOptions{Stats: rtr.Stats}) // *router.Router
//	go col.Run(ctx)
//	// Per revision (in the revision reconciler):
//	ov, err := autoscaler.ParseAnnotations(rev.Annotations)
//	s, err := autoscaler.NewRevisionSettings(cfg, ov, containerConcurrency)
//	col.CreateOrUpdate(key, s)
//	as := autoscaler.NewAutoscaler(key, s, col, autoscaler.AutoscalerOptions{
//		Configuration: configName, Registerer: cfg.Registerer})
//	// create the revision with as.InitialScale() instances, then every TickInterval:
//	d := as.Scale(time.Now(), readyInstances)
//	rt.Apply(ctx, runtime.Revision{..., Scale: int(d.DesiredScale)})
//	// Router's OnDemand(key): col.Poke(key, time.Now()); then Scale and apply at once.
//	// Revision deleted: as.Close(); col.Delete(key).
//
// # The algorithm (Knative's, unchanged)
//
// With ready = max(1, ready instances) and the averages over the stable window (60s) and the
// panic window (10% of it):
//
//	desiredStable = ceil(stable / target), desiredPanic = ceil(panic / target)
//	each clamped to [floor(ready / max-scale-down-rate), ceil(max-scale-up-rate × ready)]
//	panic when desiredPanic / ready >= panic threshold (200%); while panicking the
//	recommendation is max(desiredStable, desiredPanic) and never decreases; panic ends once
//	a whole stable window passed without crossing the threshold again
//	scale-down-delay: the recommendation is the maximum over the last delay (2s slots)
//
// The recommendation is then bounded by min-scale/max-scale (and initial-scale until that many
// instances were ready once). A recommendation of 0 is applied only when scale-to-zero is
// enabled, the revision has been Active for a stable window (it then turns Inactive and the
// activator goes into its path) and has then been Inactive for the scale-to-zero grace period
// (and the pod retention period).
package autoscaler
