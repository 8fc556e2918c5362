package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	manifestDir = "kubernetes"
	// kustomizationFile is kustomize's, not a Kubernetes object.
	kustomizationFile = "kustomization.yaml"
	// secretExampleFile documents the Secret the operator creates; it is
	// decoded and checked, but not applied.
	secretExampleFile = "secret.example.yaml"
)

// strictDecoder decodes YAML or JSON into the typed object its apiVersion
// and kind name, and fails on unknown fields (also a field in the wrong
// case) and on a field given twice: a misspelt probe or securityContext
// field would otherwise be dropped without a word by the API server's
// lenient decoding, leaving the pod less protected than its file says.
var strictDecoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}()

// decodeManifests decodes every document of a multi-document YAML file.
// Documents holding only comments are skipped.
func decodeManifests(data []byte) ([]runtime.Object, error) {
	var objs []runtime.Object
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if j, err := yaml.YAMLToJSON(doc); err == nil && string(j) == "null" {
			continue
		}
		obj, _, err := strictDecoder.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		objs = append(objs, obj)
	}
}

// kustomization is the part of kustomize's file these manifests use,
// decoded strictly too: a field this test does not know is a change to
// review here.
type kustomization struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Namespace  string           `json:"namespace"`
	Resources  []string         `json:"resources"`
	Images     []kustomizeImage `json:"images"`
}

type kustomizeImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName"`
	NewTag  string `json:"newTag"`
}

// manifests is everything in kubernetes/, by kind and name.
type manifests struct {
	kustomization kustomization
	files         []string // the object files, kustomization and example Secret excepted
	namespaces    map[string]*corev1.Namespace
	deployments   map[string]*appsv1.Deployment
	services      map[string]*corev1.Service
	pdbs          map[string]*policyv1.PodDisruptionBudget
	configMaps    map[string]*corev1.ConfigMap
	secrets       map[string]*corev1.Secret // from secretExampleFile only
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{
		namespaces: map[string]*corev1.Namespace{}, deployments: map[string]*appsv1.Deployment{},
		services: map[string]*corev1.Service{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
	}
	entries, err := os.ReadDir(manifestDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || (!strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml")) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(manifestDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == kustomizationFile {
			if err := yaml.UnmarshalStrict(data, &m.kustomization); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			continue
		}
		if name != secretExampleFile {
			m.files = append(m.files, name)
		}
		objs, err := decodeManifests(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(objs) == 0 {
			t.Errorf("%s: no objects", name)
		}
		for _, obj := range objs {
			m.add(t, name, obj)
		}
	}
	return m
}

func (m *manifests) add(t *testing.T, file string, obj runtime.Object) {
	t.Helper()
	put := func(kind, name string, ok bool) {
		if !ok {
			t.Errorf("%s: two %ss named %q", file, kind, name)
		}
	}
	switch o := obj.(type) {
	case *corev1.Namespace:
		_, dup := m.namespaces[o.Name]
		m.namespaces[o.Name] = o
		put("Namespace", o.Name, !dup)
	case *appsv1.Deployment:
		_, dup := m.deployments[o.Name]
		m.deployments[o.Name] = o
		put("Deployment", o.Name, !dup)
	case *corev1.Service:
		_, dup := m.services[o.Name]
		m.services[o.Name] = o
		put("Service", o.Name, !dup)
	case *policyv1.PodDisruptionBudget:
		_, dup := m.pdbs[o.Name]
		m.pdbs[o.Name] = o
		put("PodDisruptionBudget", o.Name, !dup)
	case *corev1.ConfigMap:
		_, dup := m.configMaps[o.Name]
		m.configMaps[o.Name] = o
		put("ConfigMap", o.Name, !dup)
	case *corev1.Secret:
		if file != secretExampleFile {
			t.Errorf("%s: Secret %q: secrets belong in no applied manifest (see %s)", file, o.Name, secretExampleFile)
		}
		m.secrets[o.Name] = o
	default:
		t.Errorf("%s: %T is not a kind this test checks", file, obj)
	}
}

// deployment returns the Deployment running `apiguard cmd` and its container.
func (m *manifests) deployment(t *testing.T, cmd string) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	for _, d := range m.deployments {
		c := &d.Spec.Template.Spec.Containers[0]
		if len(c.Args) > 0 && c.Args[0] == cmd {
			return d, c
		}
	}
	t.Fatalf("no Deployment runs `apiguard %s`", cmd)
	return nil, nil
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	k := m.kustomization
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("%s: apiVersion %q kind %q, want kustomize.config.k8s.io/v1beta1 Kustomization", kustomizationFile, k.APIVersion, k.Kind)
	}
	got := slices.Clone(k.Resources)
	sort.Strings(got)
	if !slices.Equal(got, m.files) {
		t.Errorf("%s lists %v; the directory's manifests are %v (%s excepted)", kustomizationFile, got, m.files, secretExampleFile)
	}
	if _, ok := m.namespaces[k.Namespace]; !ok {
		t.Errorf("%s: namespace %q has no Namespace manifest", kustomizationFile, k.Namespace)
	}
	for _, want := range []string{"serve", "gateway"} {
		_, c := m.deployment(t, want)
		if !slices.ContainsFunc(k.Images, func(i kustomizeImage) bool { return i.Name == c.Image }) {
			t.Errorf("%s: container %s's image %q has no images entry in %s (kustomize edit set image)", want, c.Name, c.Image, kustomizationFile)
		}
	}
	if len(m.deployments) != 2 || len(m.secrets) != 1 {
		t.Errorf("%d Deployments and %d example Secrets, want 2 and 1", len(m.deployments), len(m.secrets))
	}
}

// TestStrictDecodingRefusesMistakes shows that the decoder the other tests
// rely on refuses what the API server would silently drop.
func TestStrictDecodingRefusesMistakes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(manifestDir, "serve.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeManifests(data); err != nil {
		t.Fatalf("serve.yaml as it is: %v", err)
	}
	for _, tc := range []struct {
		name, old, new, wantErr string
	}{
		{"misspelt field", "imagePullPolicy:", "imagePullPolcy:", `unknown field "spec.template.spec.containers[0].imagePullPolcy"`},
		{"field in the wrong case", "readOnlyRootFilesystem:", "readonlyRootFilesystem:", `unknown field "spec.template.spec.containers[0].securityContext.readonlyRootFilesystem"`},
		{"field at the wrong level", "          readinessProbe:", "          readinessprobe:", `unknown field "spec.template.spec.containers[0].readinessprobe"`},
		{"field given twice", "  replicas: 2\n", "  replicas: 2\n  replicas: 3\n", `"replicas" already set`},
		{"unknown kind", "kind: PodDisruptionBudget", "kind: PodDisruptionBudgets", `no kind "PodDisruptionBudgets"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := string(data)
			if !strings.Contains(s, tc.old) {
				t.Fatalf("serve.yaml has no %q to change", tc.old)
			}
			_, err := decodeManifests([]byte(strings.Replace(s, tc.old, tc.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %s", err, tc.wantErr)
			}
		})
	}
}

func TestDeploymentsHardened(t *testing.T) {
	m := loadManifests(t)
	for name, d := range m.deployments {
		t.Run(name, func(t *testing.T) {
			checkDeployment(t, m, d)
		})
	}
}

func checkDeployment(t *testing.T, m *manifests, d *appsv1.Deployment) {
	replicas := int32(1)
	if d.Spec.Replicas != nil {
		replicas = *d.Spec.Replicas
	}
	if replicas < 2 {
		t.Errorf("replicas %d: a disruption budget needs at least 2", replicas)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	if !sel.Matches(podLabels) {
		t.Errorf("selector %v does not match the pod labels %v", sel, podLabels)
	}

	pod := d.Spec.Template.Spec
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken must be false: apiguard never calls the Kubernetes API")
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot must be true")
	}
	if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("pod securityContext.runAsUser must be a non-root uid")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod securityContext.seccompProfile must be RuntimeDefault (the restricted Pod Security Standard)")
	}
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 {
		t.Fatalf("%d containers, %d init containers: want one container", len(pod.Containers), len(pod.InitContainers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("container has no securityContext")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation must be false")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem must be true")
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("privileged")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Error("capabilities must drop ALL and add none")
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[res]
		lim, okLim := c.Resources.Limits[res]
		if !okReq || !okLim {
			t.Errorf("resources: %s request and limit must both be set", res)
		} else if req.Cmp(lim) > 0 {
			t.Errorf("resources: %s request %s above its limit %s", res, req.String(), lim.String())
		}
	}

	// Stopping: a preStop sleep (no sleep command in a scratch image) that
	// leaves the 10 s of graceful shutdown within the grace period.
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.TerminationGracePeriodSeconds != nil {
		grace = *pod.TerminationGracePeriodSeconds
	}
	if l := c.Lifecycle; l == nil || l.PreStop == nil || l.PreStop.Sleep == nil {
		t.Error("want a preStop sleep: requests routed while the endpoint is removed would be refused")
	} else if l.PreStop.Exec != nil || l.PreStop.HTTPGet != nil {
		t.Error("preStop: only sleep works in a scratch image")
	} else if s := l.PreStop.Sleep.Seconds; s <= 0 || s+10 >= grace {
		t.Errorf("preStop sleep %d s plus 10 s of graceful shutdown does not fit the %d s grace period", s, grace)
	}

	// Probes on the real routes, on ports the container declares.
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe of %s", p.name, p.path)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s: path %q, want %q", p.name, p.probe.HTTPGet.Path, p.path)
		}
		if _, err := containerPort(&c, p.probe.HTTPGet.Port); err != nil {
			t.Errorf("%s: %v", p.name, err)
		}
	}

	// A disruption budget that covers exactly these pods and lets one go.
	var budgets []*policyv1.PodDisruptionBudget
	for _, pdb := range m.pdbs {
		s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err == nil && s.Matches(podLabels) {
			budgets = append(budgets, pdb)
		}
	}
	if len(budgets) != 1 {
		t.Errorf("%d PodDisruptionBudgets select these pods, want 1", len(budgets))
	} else {
		b := budgets[0]
		switch {
		case b.Spec.MinAvailable == nil && b.Spec.MaxUnavailable == nil:
			t.Errorf("PodDisruptionBudget %s: neither minAvailable nor maxUnavailable", b.Name)
		case b.Spec.MinAvailable != nil && (b.Spec.MinAvailable.Type != intstr.Int || b.Spec.MinAvailable.IntVal >= replicas):
			t.Errorf("PodDisruptionBudget %s: minAvailable %s with %d replicas blocks every eviction", b.Name, b.Spec.MinAvailable.String(), replicas)
		}
	}

	// A Service whose target ports are the container's.
	var services int
	for _, s := range m.services {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			continue
		}
		services++
		for _, sp := range s.Spec.Ports {
			if _, err := containerPort(&c, sp.TargetPort); err != nil {
				t.Errorf("Service %s port %s: %v", s.Name, sp.Name, err)
			}
		}
	}
	if services != 1 {
		t.Errorf("%d Services select these pods, want 1", services)
	}
}

// containerPort resolves a probe's or Service's port, by name or number,
// to one the container declares.
func containerPort(c *corev1.Container, p intstr.IntOrString) (int32, error) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("port %s is not one of container %s's ports", p.String(), c.Name)
}

// namedPort is the number of the container's port called name.
func namedPort(t *testing.T, c *corev1.Container, name string) int32 {
	t.Helper()
	p, err := containerPort(c, intstr.FromString(name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkListen checks that addr listens on every address of the pod, on port.
func checkListen(t *testing.T, what, addr string, port int32) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("%s %q: %v", what, addr, err)
		return
	}
	if host != "0.0.0.0" && host != "" && host != "::" {
		t.Errorf("%s %q: a pod must listen on all addresses (0.0.0.0), not %s", what, addr, host)
	}
	if p != strconv.Itoa(int(port)) {
		t.Errorf("%s %q: port %s, but the container declares %d", what, addr, p, port)
	}
}

// sensitive are the settings whose values must come from a Secret.
var sensitive = []string{"OKTA_CLIENT_SECRET", "APIGUARD_SESSION_SECRET", "APIGUARD_REDIS_URL", "APIGUARD_DEV_PASSWORD"}

// TestEnvironmentMatchesBinary checks every environment variable the
// manifests set against the settings `apiguard <command> -h` lists, and
// every ConfigMap and Secret reference against the objects there are.
func TestEnvironmentMatchesBinary(t *testing.T) {
	m := loadManifests(t)
	for _, cmd := range []string{"serve", "gateway"} {
		t.Run(cmd, func(t *testing.T) {
			h := help(t, cmd)
			for _, name := range h.secretSettings {
				if !slices.Contains(sensitive, name) {
					t.Errorf("apiguard %s -h: %s takes a SECRET: add it to this test's sensitive list", cmd, name)
				}
			}
			_, c := m.deployment(t, cmd)
			if len(c.Command) != 0 {
				t.Errorf("container %s sets command %v: the image's entrypoint is the binary; set args", c.Name, c.Command)
			}
			if len(c.EnvFrom) != 0 {
				t.Errorf("container %s: envFrom would pass every key, checked or not: name each variable", c.Name)
			}
			seen := map[string]bool{}
			for _, e := range c.Env {
				if seen[e.Name] {
					t.Errorf("%s set twice", e.Name)
				}
				seen[e.Name] = true
				if !slices.Contains(h.env, e.Name) {
					t.Errorf("%s is not a setting of apiguard %s (its -h lists %v)", e.Name, cmd, h.env)
				}
				secret := e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
				if slices.Contains(sensitive, e.Name) != secret {
					t.Errorf("%s: sensitive settings (%v) and only they come from a Secret (secretKeyRef)", e.Name, sensitive)
				}
			}
			if _, err := m.resolveEnv(c); err != nil {
				t.Error(err)
			}
			switch cmd {
			case "serve":
				env, _ := m.resolveEnv(c)
				checkListen(t, "APIGUARD_ADDR", env["APIGUARD_ADDR"], namedPort(t, c, "http"))
			case "gateway":
				rules := m.gatewayRules(t)
				checkListen(t, "listen in gateway.yaml", rules.listen, namedPort(t, c, "http"))
				checkListen(t, "admin_listen in gateway.yaml", rules.adminListen, namedPort(t, c, "admin"))
			}
		})
	}
}

// resolveEnv gives the container's environment as the kubelet would, with
// the ConfigMaps here and the example Secret; an optional reference to a
// missing key leaves the variable unset, as in a pod.
func (m *manifests) resolveEnv(c *corev1.Container) (map[string]string, error) {
	env := map[string]string{}
	var errs []error
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
			continue
		}
		var (
			obj, key string
			data     map[string]string
			found    bool
			optional *bool
		)
		switch vf := e.ValueFrom; {
		case vf.ConfigMapKeyRef != nil:
			obj, key, optional = "ConfigMap "+vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key, vf.ConfigMapKeyRef.Optional
			if cm, ok := m.configMaps[vf.ConfigMapKeyRef.Name]; ok {
				data, found = cm.Data, true
			}
		case vf.SecretKeyRef != nil:
			obj, key, optional = "Secret "+vf.SecretKeyRef.Name, vf.SecretKeyRef.Key, vf.SecretKeyRef.Optional
			if s, ok := m.secrets[vf.SecretKeyRef.Name]; ok {
				data, found = s.StringData, true
				if len(s.Data) > 0 {
					errs = append(errs, fmt.Errorf("%s: %s in %s: use stringData (readable placeholders)", e.Name, obj, secretExampleFile))
				}
			}
		default:
			errs = append(errs, fmt.Errorf("%s: only configMapKeyRef and secretKeyRef are expected", e.Name))
			continue
		}
		if !found {
			errs = append(errs, fmt.Errorf("%s: no %s in %s", e.Name, obj, manifestDir))
			continue
		}
		v, ok := data[key]
		switch {
		case ok:
			env[e.Name] = v
		case optional == nil || !*optional:
			errs = append(errs, fmt.Errorf("%s: %s has no key %q and the reference is not optional", e.Name, obj, key))
		}
	}
	return env, errors.Join(errs...)
}

// gatewayRules is the gateway rules ConfigMap as the gateway pod sees it.
type gatewayRules struct {
	path                string // where the container reads it (APIGUARD_GATEWAY_CONFIG)
	text                string
	listen, adminListen string
}

// gatewayRules checks that the rules file the gateway reads is the rules
// ConfigMap's key, mounted as a directory so that updates reach it, and
// returns it.
func (m *manifests) gatewayRules(t *testing.T) gatewayRules {
	t.Helper()
	d, c := m.deployment(t, "gateway")
	env, err := m.resolveEnv(c)
	if err != nil {
		t.Fatal(err)
	}
	file := env["APIGUARD_GATEWAY_CONFIG"]
	if file == "" {
		t.Fatal("the gateway container does not set APIGUARD_GATEWAY_CONFIG")
	}
	var mount *corev1.VolumeMount
	for i, vm := range c.VolumeMounts {
		if vm.MountPath == path.Dir(file) {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil {
		t.Fatalf("APIGUARD_GATEWAY_CONFIG %s: no volume is mounted at %s", file, path.Dir(file))
	}
	if mount.SubPath != "" || mount.SubPathExpr != "" {
		t.Errorf("volume %s is mounted with a subPath: ConfigMap updates would never reach the gateway", mount.Name)
	}
	if !mount.ReadOnly {
		t.Errorf("volume %s: mount it readOnly", mount.Name)
	}
	var cm *corev1.ConfigMap
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == mount.Name && v.ConfigMap != nil {
			cm = m.configMaps[v.ConfigMap.Name]
			if len(v.ConfigMap.Items) > 0 {
				t.Errorf("volume %s: items rename keys; mount the ConfigMap whole", v.Name)
			}
		}
	}
	if cm == nil {
		t.Fatalf("volume %s is not a ConfigMap of %s", mount.Name, manifestDir)
	}
	text, ok := cm.Data[path.Base(file)]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s (APIGUARD_GATEWAY_CONFIG is %s)", cm.Name, path.Base(file), file)
	}
	r := gatewayRules{path: file, text: text}
	var keys struct {
		Listen      string `json:"listen"`
		AdminListen string `json:"admin_listen"`
	}
	// Not strict: the gateway itself checks the whole file when it starts
	// (TestGatewayAcceptsRules); here only the addresses matter.
	if err := yaml.Unmarshal([]byte(text), &keys); err != nil {
		t.Fatalf("ConfigMap %s %s: %v", cm.Name, path.Base(file), err)
	}
	r.listen, r.adminListen = keys.Listen, keys.AdminListen
	return r
}

// helpText is what `apiguard CMD -h` says about the settings.
type helpText struct {
	env            []string // environment variables read
	secretSettings []string // those whose flag takes a SECRET
}

var (
	envRE    = regexp.MustCompile(`\$([A-Z][A-Z0-9_]*)`)
	secretRE = regexp.MustCompile(`(?m)^\s+--\S+ SECRET, \$([A-Z][A-Z0-9_]*)`)
)

func help(t *testing.T, cmd string) helpText {
	t.Helper()
	out := apiguardHelp(t, cmd)
	var h helpText
	for _, m := range envRE.FindAllStringSubmatch(out, -1) {
		if !slices.Contains(h.env, m[1]) {
			h.env = append(h.env, m[1])
		}
	}
	for _, m := range secretRE.FindAllStringSubmatch(out, -1) {
		h.secretSettings = append(h.secretSettings, m[1])
	}
	if len(h.env) < 5 || len(h.secretSettings) == 0 {
		t.Fatalf("apiguard %s -h lists %d environment variables and %d secrets: has its format changed?\n%s", cmd, len(h.env), len(h.secretSettings), out)
	}
	return h
}

// TestKustomizeBuild runs kustomize (kubectl's, offline) over kubernetes/ and
// decodes what it would apply as strictly as the files: the namespace and
// the image name must reach every object that has them.
func TestKustomizeBuild(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed: the kustomize build is not checked (the files are, by the other tests)")
	}
	m := loadManifests(t)
	out, err := exec.Command(kubectl, "kustomize", manifestDir).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("kubectl kustomize %s: %v\n%s", manifestDir, err, ee.Stderr)
		}
		t.Fatal(err)
	}
	objs, err := decodeManifests(out)
	if err != nil {
		t.Fatalf("kubectl kustomize output: %v", err)
	}
	want := len(m.namespaces) + len(m.deployments) + len(m.services) + len(m.pdbs) + len(m.configMaps)
	if len(objs) != want {
		t.Errorf("kustomize built %d objects, the files hold %d (the example Secret excepted)", len(objs), want)
	}
	img := m.kustomization.Images[0]
	for _, obj := range objs {
		meta, err := apimeta.Accessor(obj)
		if err != nil {
			t.Fatal(err)
		}
		if _, ns := obj.(*corev1.Namespace); !ns && meta.GetNamespace() != m.kustomization.Namespace {
			t.Errorf("%T %s: namespace %q, want %q", obj, meta.GetName(), meta.GetNamespace(), m.kustomization.Namespace)
		}
		if d, ok := obj.(*appsv1.Deployment); ok {
			for _, c := range d.Spec.Template.Spec.Containers {
				if want := img.NewName + ":" + img.NewTag; c.Image != want {
					t.Errorf("Deployment %s: image %q, want %q", d.Name, c.Image, want)
				}
			}
		}
	}
}
