// pulumi-language-python: a minimal Python language host for this project's offline toolchain.
//
// The upstream host (module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3)
// is not served by the Go module proxy these machines reach, so this small host of our own stands
// in for it. It implements what `pulumi preview`, `up`, `refresh` and `destroy` need: it runs the
// program through pulumi-language-python-exec (which ships in the sdk/v3 module and is installed
// beside this binary) with the project's virtualenv, and runs Python plugins such as policy
// packs. Everything else (templates, code generation, `pulumi install`, dependency listings in
// `pulumi about`) answers Unimplemented.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

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

	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(req.GetConfigSecretKeys())
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
	if err := cmd.Run(); err != nil {
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

	var sending sync.Mutex
	send := func(response *pulumirpc.RunPluginResponse) error {
		sending.Lock()
		defer sending.Unlock()
		return server.Send(response)
	}
	stdout := streamTo(func(chunk []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: chunk}})
	})
	stderr := streamTo(func(chunk []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: chunk}})
	})
	cmd.Stdout, cmd.Stderr = stdout, stderr

	exitCode := int32(0)
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return err
		}
		exitCode = int32(exit.ExitCode())
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: exitCode}})
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
	virtualenv := ""
	if options := info.GetOptions(); options != nil {
		if value, ok := options.GetFields()["virtualenv"]; ok {
			virtualenv = value.GetStringValue()
		}
	}
	if virtualenv == "" {
		return exec.LookPath("python3")
	}
	if !filepath.IsAbs(virtualenv) {
		virtualenv = filepath.Join(info.GetRootDirectory(), virtualenv)
	}
	python := filepath.Join(virtualenv, "bin", "python")
	if _, err := os.Stat(python); err != nil {
		return "", fmt.Errorf("the virtualenv %s has no bin/python; create it first (tools/venv)", virtualenv)
	}
	return python, nil
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
	h := &host{
		engineAddress: engineAddressFrom(os.Args[1:]),
		execScript:    filepath.Join(filepath.Dir(self), "pulumi-language-python-exec"),
	}
	if _, err := os.Stat(h.execScript); err != nil {
		// The exec script is installed beside the pulumi CLI by tools/build-tools.
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
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "language host stopped: %v\n", err)
		os.Exit(1)
	}
}
