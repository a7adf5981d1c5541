# seeds.sh, sourced by the scripts that sweep seeds (recipe-check.sh,
# module-split.sh): parse_seeds NAME ARGS... reads "SEED... [-- FLAGS...]"
# into the arrays SEEDS and TRAIN_FLAGS. A seed that is not a non-negative
# integer exits 2 with a message naming the script (NAME).
parse_seeds() {
	local name=$1
	shift
	SEEDS=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		case $1 in
		'' | *[!0-9]*)
			echo "$name: seed '$1' is not a non-negative integer" >&2
			exit 2
			;;
		esac
		SEEDS+=("$1")
		shift
	done
	[ "${1:-}" = "--" ] && shift
	TRAIN_FLAGS=("$@")
}
