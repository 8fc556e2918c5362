package deploy

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/testwait"
)

const (
	imageTag = "localhost/apiguard:deploy-test"
	// maxImageSize is the size budget of the image, as podman counts it
	// (the uncompressed layers, in bytes).
	maxImageSize = 30_000_000
	imageBinary  = "usr/local/bin/apiguard"
	imageCAFile  = "etc/ssl/certs/ca-certificates.crt"
	hostCAFile   = "/etc/ssl/certs/ca-certificates.crt"
)

// imageConfig is the part of `podman image inspect` checked here.
type imageConfig struct {
	Size         int64
	Architecture string
	Os           string
	Config       struct {
		User         string
		ExposedPorts map[string]struct{}
		Env          []string
		Entrypoint   []string
		Cmd          []string
		Labels       map[string]string
	}
}

// TestImage builds the image with scripts/image.sh into a private podman
// store and checks what it is: entrypoint, non-root numeric user, the serve
// port, labels, exactly two files (the binary and the CA certificates) and
// its size. The machines the tests run on cannot start containers (they may
// not set the resource limits a container runtime sets), so instead of
// running the image the test runs the binary it holds (the same bytes,
// checked) outside it, with the image's command and environment only, in /,
// as the image's user when the test runs as root, and asks /healthz and
// /readyz. APIGUARD_SKIP_IMAGE=1 skips it.
func TestImage(t *testing.T) {
	if os.Getenv("APIGUARD_SKIP_IMAGE") == "1" {
		t.Skip("APIGUARD_SKIP_IMAGE=1")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatal("podman is not installed (apt-get install podman; scripts/test.sh does), or set APIGUARD_SKIP_IMAGE=1 to skip this test")
	}
	dir := t.TempDir()
	store, context := filepath.Join(dir, "store"), filepath.Join(dir, "context")
	podman := func(args ...string) []byte {
		t.Helper()
		args = append([]string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "vfs"}, args...)
		out, err := exec.Command("podman", args...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
			}
			t.Fatalf("podman %s: %v", strings.Join(args, " "), err)
		}
		return out
	}

	build := exec.Command("./scripts/image.sh", "--storage", store, "--context", context, "--tag", imageTag)
	build.Dir = ".."
	var stderr bytes.Buffer
	build.Stderr = &stderr
	began := time.Now()
	out, err := build.Output()
	if err != nil {
		t.Fatalf("scripts/image.sh: %v\n%s", err, stderr.String())
	}
	t.Logf("scripts/image.sh took %s; image %s", time.Since(began).Round(time.Second), strings.TrimSpace(string(out)))

	var inspected []imageConfig
	if err := json.Unmarshal(podman("image", "inspect", imageTag), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("podman image inspect: %v (%d images)", err, len(inspected))
	}
	img := inspected[0]
	cfg := img.Config
	t.Logf("image size %d bytes (%.1f MB), %s/%s", img.Size, float64(img.Size)/1e6, img.Os, img.Architecture)
	if img.Size > maxImageSize {
		t.Errorf("image size %d bytes, over the %d budget", img.Size, maxImageSize)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/" + imageBinary}) {
		t.Errorf("entrypoint %q, want [/%s]", cfg.Entrypoint, imageBinary)
	}
	if !slices.Equal(cfg.Cmd, []string{"serve"}) {
		t.Errorf("cmd %q, want [serve]", cfg.Cmd)
	}

	// A numeric non-root user, the one the Deployments run as (runAsNonRoot
	// can only check a numeric user).
	uid, gid, ok := strings.Cut(cfg.User, ":")
	u, errU := strconv.Atoi(uid)
	_, errG := strconv.Atoi(gid)
	if !ok || errU != nil || errG != nil || u == 0 {
		t.Errorf("user %q: want a numeric non-root uid:gid", cfg.User)
	}
	m := loadManifests(t)
	for _, d := range m.deployments {
		if ps := d.Spec.Template.Spec.SecurityContext; ps != nil && ps.RunAsUser != nil && int(*ps.RunAsUser) != u {
			t.Errorf("Deployment %s runs as uid %d, the image as %d", d.Name, *ps.RunAsUser, u)
		}
	}

	// The port: the one serve listens on in the image, and in the manifest.
	env := map[string]string{}
	for _, kv := range cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	_, port, err := net.SplitHostPort(env["APIGUARD_ADDR"])
	if err != nil {
		t.Fatalf("the image's APIGUARD_ADDR %q: %v", env["APIGUARD_ADDR"], err)
	}
	if _, ok := cfg.ExposedPorts[port+"/tcp"]; !ok || len(cfg.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v, want only %s/tcp (APIGUARD_ADDR %s)", cfg.ExposedPorts, port, env["APIGUARD_ADDR"])
	}
	_, c := m.deployment(t, "serve")
	if p := namedPort(t, c, "http"); strconv.Itoa(int(p)) != port {
		t.Errorf("the serve Deployment's port %d is not the image's %s", p, port)
	}

	for _, l := range []string{"title", "description", "source", "licenses", "version", "revision", "created"} {
		if cfg.Labels["org.opencontainers.image."+l] == "" {
			t.Errorf("label org.opencontainers.image.%s is missing", l)
		}
	}
	if _, err := time.Parse(time.RFC3339, cfg.Labels["org.opencontainers.image.created"]); err != nil {
		t.Errorf("label org.opencontainers.image.created: %v", err)
	}

	// What the image holds: exactly the binary image.sh built and the CA file.
	archive := filepath.Join(dir, "image.tar")
	podman("save", "--format", "docker-archive", "-o", archive, imageTag)
	files := imageFiles(t, archive)
	names := slices.Sorted(maps.Keys(files))
	if !slices.Equal(names, []string{imageCAFile, imageBinary}) {
		t.Errorf("the image's files are %v, want only %s and %s", names, imageCAFile, imageBinary)
	}
	bin := filepath.Join(context, "apiguard")
	for name, want := range map[string]string{imageBinary: bin, imageCAFile: hostCAFile} {
		data, err := os.ReadFile(want)
		if err != nil {
			t.Fatal(err)
		}
		if f, ok := files[name]; !ok || f.sum != sha256.Sum256(data) {
			t.Errorf("the image's %s is not %s", name, want)
		}
	}
	if f := files[imageBinary]; f.mode&0o001 == 0 {
		t.Errorf("the image's %s (mode %o) cannot be run by uid %d", imageBinary, f.mode, u)
	}
	checkStatic(t, bin)

	// Run as the container would be: the image's command and environment
	// only (no HOME), in /, and, when the test runs as root, as the image's
	// user, who can write nowhere there.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		g, _ := strconv.Atoi(gid)
		cred = &syscall.Credential{Uid: uint32(u), Gid: uint32(g)}
		// t.TempDir's directories (the test's and this one) are private
		// to root.
		for _, d := range []string{filepath.Dir(dir), dir, context} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	args := append(slices.Clone(cfg.Entrypoint[1:]), cfg.Cmd...)

	// The image's default command as it is: no OKTA_ISSUER, all addresses.
	// serve refuses to start its development issuer there, naming why.
	p := startIn(t, bin, args, envList(env), "/", cred)
	testwait.For(t, "the image's default command to exit", p.exited)
	if p.cmd.ProcessState.Success() || !strings.Contains(p.out.String(), "OKTA_ISSUER") {
		t.Errorf("the image's default command without OKTA_ISSUER: %v, want a refusal naming OKTA_ISSUER:\n%s", p.cmd.ProcessState, p.out.String())
	}

	// The same command on loopback, where the development issuer runs: the
	// probes' routes answer.
	env["APIGUARD_ADDR"] = "127.0.0.1:0"
	env["APIGUARD_LOG_FORMAT"] = "json"
	p = startIn(t, bin, args, envList(env), "/", cred)
	addr := field(t, p.logged(t, "listening"), "addr")
	for _, path := range []string{"/healthz", "/readyz"} {
		waitStatus(t, "http://"+addr+path, http.StatusOK)
	}
}

type imageFile struct {
	mode int64
	sum  [sha256.Size]byte
}

// imageFiles lists the regular files of a docker-archive image, layers
// applied in order.
func imageFiles(t *testing.T, archive string) map[string]imageFile {
	t.Helper()
	members := map[string][]byte{}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			members[h.Name] = data
		}
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(members["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("%s: manifest.json: %v", archive, err)
	}
	files := map[string]imageFile{}
	for _, layer := range manifest[0].Layers {
		data, ok := members[layer]
		if !ok {
			t.Fatalf("%s: layer %s is missing", archive, layer)
		}
		lr := tar.NewReader(bytes.NewReader(data))
		for {
			h, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: layer %s: %v", archive, layer, err)
			}
			name := strings.TrimPrefix(filepath.Clean("/"+h.Name), "/")
			if base := filepath.Base(name); strings.HasPrefix(base, ".wh.") {
				t.Errorf("layer %s removes %s: no layer should", layer, name)
				continue
			}
			switch h.Typeflag {
			case tar.TypeReg:
				data, err := io.ReadAll(lr)
				if err != nil {
					t.Fatal(err)
				}
				files[name] = imageFile{mode: h.Mode, sum: sha256.Sum256(data)}
			case tar.TypeDir:
			default:
				t.Errorf("layer %s: %s is of tar type %q: want only files and directories", layer, name, h.Typeflag)
			}
		}
	}
	return files
}

// checkStatic fails unless bin is an ELF executable without a dynamic
// loader or shared libraries: a scratch image has no libc.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s asks for a dynamic loader: build it with CGO_ENABLED=0", bin)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", bin, libs)
	}
}
