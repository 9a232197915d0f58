package reconciler_test

import (
	"context"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/kinds"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/control/reconciler/reconcilertest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// Widget is a test-only kind with Knative-style status, for the status helpers.
type Widget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              WidgetSpec   `json:"spec"`
	Status            WidgetStatus `json:"status,omitempty"`
}

// WidgetSpec asks for a color.
type WidgetSpec struct {
	Color string `json:"color,omitempty"`
}

// WidgetStatus reports the color the widget has.
type WidgetStatus struct {
	api.Status `json:",inline"`
	Color      string `json:"color,omitempty"`
}

// GetStatus implements api.StatusObject.
func (w *Widget) GetStatus() *api.Status { return &w.Status.Status }

// ConditionPainted is the widget's one dependent condition.
const ConditionPainted api.ConditionType = "Painted"

var widgetConditions = api.NewLivingConditionSet(ConditionPainted)

// widgetRegistry is the Eddy registry plus Widget.
func widgetRegistry() *api.Registry {
	reg := kinds.NewRegistry()
	reg.Register(&api.Kind{
		Group: "test.eddy.dev", Kind: "Widget", Plural: "widgets", Singular: "widget", Namespaced: true,
		Versions: []api.Version{{Name: "v1", Storage: true, New: func() api.Object { return &Widget{} }}},
	})
	return reg
}

// painter is a reconciler that only writes status.
type painter struct {
	widgets *reconciler.Lister[*Widget]
	client  *reconciler.Client
}

func (p *painter) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	original, err := p.widgets.Get(ns, name)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	w := reconciler.DeepCopy(original)
	m := widgetConditions.Manage(w.GetStatus())
	m.InitializeConditions()
	if w.Spec.Color == "" {
		m.MarkFalse(ConditionPainted, "NoColor", "spec.color is empty")
	} else {
		w.Status.Color = w.Spec.Color
		m.MarkTrue(ConditionPainted)
	}
	_, err = p.client.UpdateStatusIfChanged(ctx, original, w)
	return err
}

func widget(name, color string) *Widget {
	return &Widget{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: WidgetSpec{Color: color}}
}

func withStatus(w *Widget, generation int64, color string, conds ...api.Condition) *Widget {
	w.Status = WidgetStatus{Status: api.Status{ObservedGeneration: generation, Conditions: conds}, Color: color}
	return w
}

var (
	painted  = api.Condition{Type: ConditionPainted, Status: corev1.ConditionTrue}
	ready    = api.Condition{Type: api.ConditionReady, Status: corev1.ConditionTrue}
	noColor  = api.Condition{Type: ConditionPainted, Status: corev1.ConditionFalse, Reason: "NoColor", Message: "spec.color is empty"}
	notReady = api.Condition{Type: api.ConditionReady, Status: corev1.ConditionFalse, Reason: "NoColor", Message: "spec.color is empty"}
)

func TestPainterTable(t *testing.T) {
	reconcilertest.Table{{
		Name:              "first reconcile writes status",
		Objects:           []api.Object{widget("w", "red")},
		Key:               "default/w",
		WantStatusUpdates: []api.Object{withStatus(widget("w", "red"), 1, "red", painted, ready)},
	}, {
		Name:    "status in sync: no write",
		Objects: []api.Object{withStatus(widget("w", "red"), 1, "red", painted, ready)},
		Key:     "default/w",
	}, {
		Name:              "failure shows in Ready",
		Objects:           []api.Object{withStatus(widget("w", ""), 1, "red", painted, ready)},
		Key:               "default/w",
		WantStatusUpdates: []api.Object{withStatus(widget("w", ""), 1, "red", noColor, notReady)},
	}, {
		Name:              "a failed status write is an error",
		Objects:           []api.Object{widget("w", "red")},
		Key:               "default/w",
		InduceFailures:    []string{"update-status widgets.test.eddy.dev"},
		WantStatusUpdates: []api.Object{withStatus(widget("w", "red"), 1, "red", painted, ready)},
		WantErr:           true,
	}}.Test(t, func(t *testing.T, env *reconcilertest.Env) reconciler.Reconciler {
		l, err := reconciler.NewLister[*Widget](env.Cache)
		if err != nil {
			t.Fatal(err)
		}
		return &painter{widgets: l, client: env.Client}
	}, reconcilertest.WithRegistry(widgetRegistry()))
}

func TestUpdateStatusIfChanged(t *testing.T) {
	ctx := t.Context()
	client := reconciler.NewClient(openStore(t), widgetRegistry())
	w := widget("w", "blue")
	if err := client.Create(ctx, w); err != nil {
		t.Fatal(err)
	}
	stale := reconciler.DeepCopy(w)

	// Generation 1 was never observed: the first call writes observedGeneration.
	original := reconciler.DeepCopy(w)
	changed, err := client.UpdateStatusIfChanged(ctx, original, w)
	if err != nil || !changed {
		t.Fatalf("first call: changed=%v err=%v, want a write", changed, err)
	}
	var stored Widget
	if err := client.Get(ctx, "default", "w", &stored); err != nil {
		t.Fatal(err)
	}
	if stored.Status.ObservedGeneration != 1 || stored.ResourceVersion != w.ResourceVersion {
		t.Fatalf("stored observedGeneration=%d rv=%s; want 1 and %s", stored.Status.ObservedGeneration, stored.ResourceVersion, w.ResourceVersion)
	}

	// Nothing changed since: no write.
	if changed, err := client.UpdateStatusIfChanged(ctx, reconciler.DeepCopy(w), w); err != nil || changed {
		t.Fatalf("second call: changed=%v err=%v, want no write", changed, err)
	}

	// A status computed from a stale read conflicts.
	desired := reconciler.DeepCopy(stale)
	desired.Status.Color = "blue"
	if _, err := client.UpdateStatusIfChanged(ctx, stale, desired); !apierrors.IsConflict(err) {
		t.Fatalf("stale write: err=%v, want Conflict", err)
	}
}

func TestStatusEqualAndObserveGeneration(t *testing.T) {
	a := withStatus(widget("w", "red"), 1, "red", painted, ready)
	b := reconciler.DeepCopy(a)
	if eq, err := reconciler.StatusEqual(a, b); err != nil || !eq {
		t.Fatalf("StatusEqual(copy) = %v, %v", eq, err)
	}
	b.Generation = 3
	b.Spec.Color = "green" // spec is not status
	if eq, _ := reconciler.StatusEqual(a, b); !eq {
		t.Fatal("a spec change made the statuses differ")
	}
	reconciler.ObserveGeneration(b)
	if b.Status.ObservedGeneration != 3 {
		t.Fatalf("ObserveGeneration: observedGeneration = %d, want 3", b.Status.ObservedGeneration)
	}
	if eq, _ := reconciler.StatusEqual(a, b); eq {
		t.Fatal("StatusEqual missed an observedGeneration change")
	}
}
