// pulumi-language-python: a minimal Python language host for this project's offline toolchain.
//
// The upstream host (module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3)
// is not served by the Go module proxy these machines reach, so this small host of our own stands
// in for it. It implements what the CLI calls for `pulumi preview`, `up`, `refresh`, `destroy`,
// `install` and `about`: it runs the program through pulumi-language-python-exec (which ships in
// the sdk/v3 module and is installed beside this binary) with the project's virtualenv, runs
// Python plugins such as policy packs, describes the runtime (About), lists the virtualenv's
// packages (GetProgramDependencies) and creates the virtualenv and installs requirements.txt
// (InstallDependencies). Templates, code generation and packaging answer Unimplemented.
//
// It stops as soon as the CLI closes it (SIGINT to its process group) or on SIGTERM, whatever
// the dispositions it inherited: a host started with SIGINT ignored (a background job, nohup,
// some CI runners) would otherwise wait for the CLI's SIGKILL 5 s later, on every preview and up.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The exit code with which pulumi-language-python-exec says it already showed the user an error.
const exitCodeAfterUserMessage = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	execScript    string

	// The child processes running now: ended when the host stops.
	children sync.Mutex
	running  map[*exec.Cmd]struct{}
	stopped  bool
}

var errStopping = errors.New("the language host is stopping")

// run starts `cmd` and waits for it, as cmd.Run does, keeping it on the list that stop() ends.
func (h *host) run(cmd *exec.Cmd) error {
	h.children.Lock()
	if h.stopped {
		h.children.Unlock()
		return errStopping
	}
	err := cmd.Start()
	if err == nil {
		h.running[cmd] = struct{}{}
	}
	h.children.Unlock()
	if err != nil {
		return err
	}
	err = cmd.Wait()
	h.children.Lock()
	delete(h.running, cmd)
	h.children.Unlock()
	return err
}

// stop ends every child now (a Python program or policy pack outliving its host would hold the
// CLI's output pipe open until the CLI's SIGKILL) and starts no more.
func (h *host) stop() {
	h.children.Lock()
	defer h.children.Unlock()
	h.stopped = true
	for cmd := range h.running {
		_ = cmd.Process.Kill()
	}
}

func (h *host) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: "0.0.0-voting-app"}, nil
}

// Providers are loaded when the program registers its first resource with them, at the version
// the Python SDK names, so no plugin needs to be announced up front.
func (h *host) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	if info == nil {
		return nil, errors.New("the engine sent no program info")
	}
	python, err := pythonExecutable(info)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	program := info.GetEntryPoint()
	if program == "" {
		program = "."
	}
	args := []string{
		"-u", h.execScript,
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
		"--project", req.GetProject(),
		"--stack", req.GetStack(),
		"--pwd", info.GetProgramDirectory(),
		"--root_directory", info.GetRootDirectory(),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
		"--organization", req.GetOrganization(),
		program,
	}
	args = append(args, req.GetArgs()...)

	// A stack without config sends none: the runner expects an empty object and list, not null.
	values, keys := req.GetConfig(), req.GetConfigSecretKeys()
	if values == nil {
		values = map[string]string{}
	}
	if keys == nil {
		keys = []string{}
	}
	config, err := json.Marshal(values)
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Dir = info.GetProgramDirectory()
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(activate(os.Environ(), python),
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys),
	)
	if err := h.run(cmd); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if exit.ExitCode() == exitCodeAfterUserMessage {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exit.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin runs a Python plugin, such as a policy pack: the directory's __main__.py in the
// plugin's virtualenv, streaming its output back to the engine.
func (h *host) RunPlugin(
	req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	info := req.GetInfo()
	if info == nil {
		return errors.New("the engine sent no plugin info")
	}
	python, err := pythonExecutable(info)
	if err != nil {
		return err
	}
	entry := filepath.Join(info.GetProgramDirectory(), info.GetEntryPoint())
	cmd := exec.CommandContext(server.Context(), python, append([]string{"-u", entry}, req.GetArgs()...)...)
	cmd.Dir = info.GetProgramDirectory()
	if req.GetPwd() != "" {
		cmd.Dir = req.GetPwd()
	}
	environ := req.GetEnv()
	if len(environ) == 0 {
		environ = os.Environ()
	}
	cmd.Env = activate(environ, python)

	send := serialized(server.Send)
	cmd.Stdout, cmd.Stderr = streams(func(stdout, stderr []byte) error {
		if stdout != nil {
			return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: stdout}})
		}
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: stderr}})
	})

	exitCode := int32(0)
	if err := h.run(cmd); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return err
		}
		exitCode = int32(exit.ExitCode())
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: exitCode}})
}

// About describes the runtime for the update's metadata (the CLI asks on every preview and up,
// and `pulumi about` prints it). Read from the virtualenv's files, without starting Python: the
// CLI waits for this answer before it starts the update.
func (h *host) About(_ context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	python, err := pythonExecutable(req.GetInfo())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: python,
		Version:    pythonVersion(python),
		Metadata: map[string]string{
			"toolchain":        "Pip",
			"toolchainVersion": pipVersion(python),
			"typechecker":      "None",
		},
	}, nil
}

// pythonVersion is the version a virtualenv records in its pyvenv.cfg, else what the
// interpreter says.
func pythonVersion(python string) string {
	config, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(python)), "pyvenv.cfg"))
	if err == nil {
		for _, line := range strings.Split(string(config), "\n") {
			key, value, found := strings.Cut(line, "=")
			key = strings.TrimSpace(key)
			if found && (key == "version" || key == "version_info") {
				parts := strings.Split(strings.TrimSpace(value), ".")
				return strings.Join(parts[:min(3, len(parts))], ".")
			}
		}
	}
	out, err := exec.Command(python, "--version").Output()
	if err != nil {
		return "0.0.0"
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "Python ")
}

// pipVersion is the version of the pip installed beside `python` (its dist-info directory).
func pipVersion(python string) string {
	found, _ := filepath.Glob(filepath.Join(
		filepath.Dir(filepath.Dir(python)), "lib", "python*", "site-packages", "pip-*.dist-info"))
	if len(found) == 0 {
		return "0.0.0"
	}
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(found[0]), "pip-"), ".dist-info")
}

// GetProgramDependencies lists the virtualenv's packages for `pulumi about` (pip list).
func (h *host) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	python, err := pythonExecutable(req.GetInfo())
	if err != nil {
		return nil, err
	}
	args := []string{"-m", "pip", "list", "--format", "json", "--disable-pip-version-check"}
	if !req.GetTransitiveDependencies() {
		args = append(args, "--not-required")
	}
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Env = activate(os.Environ(), python)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := h.run(cmd); err != nil {
		return nil, fmt.Errorf("pip list: %w", err)
	}
	var listed []struct{ Name, Version string }
	if err := json.Unmarshal(out.Bytes(), &listed); err != nil {
		return nil, fmt.Errorf("pip list: %w", err)
	}
	response := &pulumirpc.GetProgramDependenciesResponse{}
	for _, dependency := range listed {
		response.Dependencies = append(response.Dependencies,
			&pulumirpc.DependencyInfo{Name: dependency.Name, Version: dependency.Version})
	}
	return response, nil
}

// InstallDependencies is `pulumi install` for the project (and, the CLI finding PulumiPolicy.yaml
// below it, for the policy pack): it creates the virtualenv the runtime options name if it does
// not exist yet (with $PULUMI_PYTHON_CMD, else python3), then installs the directory's
// requirements.txt into it, streaming pip's output. Unlike the official host it does not upgrade
// pip, setuptools and wheel first: the pinned requirements need none of that, and it would need a
// package index even when requirements.txt is served from elsewhere.
func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	info := req.GetInfo()
	if info == nil {
		return errors.New("the engine sent no program info")
	}
	send := serialized(server.Send)
	stdout, stderr := streams(func(stdout, stderr []byte) error {
		return send(&pulumirpc.InstallDependenciesResponse{Stdout: stdout, Stderr: stderr})
	})
	run := func(dir string, environ []string, name string, args ...string) error {
		cmd := exec.CommandContext(server.Context(), name, args...)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, environ, stdout, stderr
		if err := h.run(cmd); err != nil {
			return fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
		}
		return nil
	}

	fmt.Fprint(stdout, "Installing dependencies...\n\n")
	virtualenv := runtimeOption(info, "virtualenv")
	if virtualenv == "" && req.GetIsPlugin() {
		virtualenv = "venv" // the official host's default for plugins
	}
	python := ""
	if virtualenv != "" {
		if !filepath.IsAbs(virtualenv) {
			virtualenv = filepath.Join(info.GetRootDirectory(), virtualenv)
		}
		python = filepath.Join(virtualenv, "bin", "python")
		if _, err := os.Stat(python); err != nil {
			base := os.Getenv("PULUMI_PYTHON_CMD")
			if base == "" {
				base = "python3"
			}
			fmt.Fprintf(stdout, "Creating virtual environment %s with %s...\n", virtualenv, base)
			if err := run(info.GetProgramDirectory(), os.Environ(), base, "-m", "venv", virtualenv); err != nil {
				return err
			}
		}
	} else {
		found, err := exec.LookPath("python3")
		if err != nil {
			return err
		}
		python = found
	}
	requirements := filepath.Join(info.GetProgramDirectory(), "requirements.txt")
	if _, err := os.Stat(requirements); err == nil {
		fmt.Fprintf(stdout, "Installing %s...\n", requirements)
		if err := run(info.GetProgramDirectory(), activate(os.Environ(), python), python,
			"-m", "pip", "install", "--disable-pip-version-check", "-r", requirements); err != nil {
			return err
		}
	}
	fmt.Fprint(stdout, "Finished installing dependencies\n\n")
	return nil
}

// serialized is `send` for one message at a time: a gRPC stream takes no concurrent sends, and a
// child's stdout and stderr are copied by two goroutines.
func serialized[T any](send func(T) error) func(T) error {
	var sending sync.Mutex
	return func(message T) error {
		sending.Lock()
		defer sending.Unlock()
		return send(message)
	}
}

// streams are two writers, a child's stdout and stderr, that hand each write, copied, to `send`
// (with the other side nil).
func streams(send func(stdout, stderr []byte) error) (io.Writer, io.Writer) {
	return streamTo(func(chunk []byte) error { return send(chunk, nil) }),
		streamTo(func(chunk []byte) error { return send(nil, chunk) })
}

// streamTo is an io.Writer that hands each write, copied, to `send`.
type streamTo func(chunk []byte) error

func (s streamTo) Write(chunk []byte) (int, error) {
	if err := s(append([]byte(nil), chunk...)); err != nil {
		return 0, err
	}
	return len(chunk), nil
}

// pythonExecutable is the project's virtualenv interpreter (runtime option `virtualenv`),
// or python3 on PATH when the project names none.
func pythonExecutable(info *pulumirpc.ProgramInfo) (string, error) {
	virtualenv := runtimeOption(info, "virtualenv")
	if virtualenv == "" {
		return exec.LookPath("python3")
	}
	if !filepath.IsAbs(virtualenv) {
		virtualenv = filepath.Join(info.GetRootDirectory(), virtualenv)
	}
	python := filepath.Join(virtualenv, "bin", "python")
	if _, err := os.Stat(python); err != nil {
		return "", fmt.Errorf("the virtualenv %s has no bin/python; create it first (tools/lib/venv)", virtualenv)
	}
	return python, nil
}

// runtimeOption is a string option of the project's `runtime.options` (or the policy pack's).
func runtimeOption(info *pulumirpc.ProgramInfo, name string) string {
	if options := info.GetOptions(); options != nil {
		if value, ok := options.GetFields()[name]; ok {
			return value.GetStringValue()
		}
	}
	return ""
}

// activate puts the interpreter's bin directory first on PATH and sets VIRTUAL_ENV, as
// `source bin/activate` would.
func activate(environ []string, python string) []string {
	bin := filepath.Dir(python)
	result := make([]string, 0, len(environ)+2)
	for _, entry := range environ {
		if strings.HasPrefix(entry, "PATH=") || strings.HasPrefix(entry, "VIRTUAL_ENV=") ||
			strings.HasPrefix(entry, "PYTHONHOME=") {
			continue
		}
		result = append(result, entry)
	}
	return append(result, "VIRTUAL_ENV="+filepath.Dir(bin), "PATH="+bin+":"+os.Getenv("PATH"))
}

// engineAddressFrom takes the engine's address: the engine passes it as the last argument.
func engineAddressFrom(args []string) string {
	for i := len(args) - 1; i >= 0; i-- {
		if !strings.HasPrefix(args[i], "-") {
			return args[i]
		}
	}
	return ""
}

func main() {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The CLI closes a host with SIGINT to its process group (then SIGKILL 5 s later). Notify
	// installs a handler even where SIGINT was inherited ignored, which Go would otherwise keep.
	stopping, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h := &host{
		engineAddress: engineAddressFrom(os.Args[1:]),
		execScript:    filepath.Join(filepath.Dir(self), "pulumi-language-python-exec"),
		running:       map[*exec.Cmd]struct{}{},
	}
	if _, err := os.Stat(h.execScript); err != nil {
		// The exec script is installed beside the pulumi CLI by workbench/toolchain/build.
		if onPath, lookErr := exec.LookPath("pulumi-language-python-exec"); lookErr == nil {
			h.execScript = onPath
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "could not start the language host: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of our stdout.
	fmt.Printf("%d\n", handle.Port)
	// The CLI gives its plugins a stdin pipe that it never writes to: it ends only when the CLI
	// does. A CLI killed without closing us (SIGKILL) so stops us too.
	if stat, err := os.Stdin.Stat(); err == nil && stat.Mode()&os.ModeNamedPipe != 0 {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	select {
	case err := <-handle.Done:
		if err != nil {
			fmt.Fprintf(os.Stderr, "language host stopped: %v\n", err)
			os.Exit(1)
		}
	case <-stopping.Done():
		// An open stream (a policy pack's RunPlugin) would hold a graceful stop of the server:
		// the children end here, and the process with them.
		h.stop()
	}
}
