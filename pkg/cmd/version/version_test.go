package version_test

import (
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/hf-cli/hf/pkg/cmd/version"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/ui"
)

func TestVersion(t *testing.T) {
	for _, v := range []string{"1.2.3", "dev", "v0.4.0-rc.1+dirty"} {
		t.Run(v, func(t *testing.T) {
			ios, _, out, errOut := ui.Test()
			cmd := version.NewCmdVersion(&cmdutil.Factory{IOStreams: ios, Version: v})
			cmd.SetArgs(nil)
			cmd.SetOut(errOut)
			cmd.SetErr(errOut)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("hf %s (%s, %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if out.String() != want {
				t.Fatalf("stdout %q, want %q", out, want)
			}
			if errOut.Len() != 0 {
				t.Fatalf("stderr %q", errOut)
			}
		})
	}
}

func TestVersionTakesNoArguments(t *testing.T) {
	ios, _, out, errOut := ui.Test()
	cmd := version.NewCmdVersion(&cmdutil.Factory{IOStreams: ios, Version: "1.2.3"})
	cmd.SetArgs([]string{"extra"})
	cmd.SetOut(errOut)
	cmd.SetErr(errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || fe.Error() != "version takes no arguments (got 1 argument)" {
		t.Fatalf("err = %v, want a FlagError", err)
	}
	if out.Len() != 0 {
		t.Fatalf("stdout %q", out)
	}
}
