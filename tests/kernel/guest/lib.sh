# Helpers of the guest scripts (busybox sh).  Reports go to the console as
#   @@PFS check NAME PASS|FAIL|SKIP message
#   @@PFS note NAME line          (details of a failure)
#   @@PFS data KEY value          (measurements)

note() {	# NAME FILE: up to 40 lines of FILE as notes
	head -n 40 "$2" | while IFS= read -r l; do echo "@@PFS note $1 $l"; done
}

# check NAME FUNCTION [ARGS]: run FUNCTION, output to /tmp/log.NAME; exit 0
# passes, 77 skips, anything else fails (the last line says why).
check() {
	name=$1
	shift
	log=/tmp/log.$name
	( "$@" ) > "$log" 2>&1
	rc=$?
	last=$(tail -n 1 "$log" | tr -d '\r')
	if [ $rc -eq 0 ]; then
		echo "@@PFS check $name PASS $last"
	elif [ $rc -eq 77 ]; then
		echo "@@PFS check $name SKIP $last"
	else
		echo "@@PFS check $name FAIL (exit $rc) $last"
		note "$name" "$log"
	fi
}

die() { echo "$*"; exit 1; }

# Kernel messages that mean a bug: an oops, a BUG, a WARN, a lockup.
dmesg_bad() {
	dmesg | grep -E 'Oops|BUG:|WARNING:|Call Trace|general protection|blocked for more than|soft lockup|RCU stall|kernel BUG|UBSAN|KASAN'
}

# pmount DIR OPTIONS: mount puzzlefs
pmount() {
	mount -t puzzlefs -o "$2" none "$1"
}
