# Sourced by the project's scripts (setup.sh, demo.sh, .ci/run) so that
# they all see the same toolchain. Keep it free of side effects beyond
# exporting variables.

# Debian's Go lives in /usr/local/go on the machines this project targets;
# a fresh root shell does not have it on PATH.
if [ -d /usr/local/go/bin ]; then
	case ":$PATH:" in
	*:/usr/local/go/bin:*) ;;
	*) export PATH="/usr/local/go/bin:$PATH" ;;
	esac
fi
# Modules come from the module proxy; never let a build switch toolchains
# behind our back.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
