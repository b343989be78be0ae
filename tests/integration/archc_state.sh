#!/bin/sh
# tests/integration/archc_state.sh — `archc state`: an empty state dir, two
# tiny supernets listed with where their training stands and the tasks
# naming them (from --arch files and from a spec stored in the state dir),
# a supernet no task names counted apart, and --remove: refused while a
# training holds the lock, a supernet removed with everything in it, an
# unknown key, and usage errors.  Prints TAP lines.
set -u
. "$(dirname "$0")/lib.sh"
lib_init archc_state
export ARCHD_THREADS=1 ARCH_PATH=
S="--state $STATE"
rows() { grep -c '^[0-9a-f]\{32\} ' out.txt; }
status() { want=$1; shift; "$@" >out.txt 2>err.txt; [ $? -eq "$want" ]; }

tiny_spec
check "state is in --help" sh -c '"$0" --help | grep -q "^  state "' "$ARCHC"
check "an empty state dir lists nothing" status 0 "$ARCHC" state $S
check "... and says so" grep -q "^0 supernets in $STATE/supernets, 0 B; 0 named" out.txt

train_tiny t
check "a tiny supernet trains" test $? -eq 0
train_tiny t2
check "and a second one" test $? -eq 0
key() { "$ARCHC" id tiny.arch | awk -v t="$1" '$1 == "task" && $2 == t { sub("xxh3:", "", $4); print $4 }'; }
K=$(key t)
K2=$(key t2)
check "archc id gives their keys" sh -c 'test ${#0} -eq 32 && test ${#1} -eq 32' "$K" "$K2"
check "both are listed" sh -c '"$0" state --state "$1" --arch tiny.arch >out.txt && test "$(grep -c "^[0-9a-f]\{32\} " out.txt)" -eq 2' "$ARCHC" "$STATE"
check "t's trained, with its task" grep -q "^$K  trained, 4 epochs .* tiny.arch:t$" out.txt
check "t2's too" grep -q "^$K2  trained, 2 epochs .* tiny.arch:t2$" out.txt
check "with their size" grep -q "^$K  [^ ].* [0-9.]* kB  " out.txt
check "none unnamed" grep -q "^2 supernets in $STATE/supernets, .*; 0 named by no task" out.txt
check "without --arch, neither is named" status 0 "$ARCHC" state $S
check "... counted apart" sh -c 'grep -q "^2 supernets .*; 2 named by no task given or stored" out.txt && grep -q "^$0 .*  -$" out.txt' "$K"
mkdir -p "$STATE/ir"
ID=$("$ARCHC" id tiny.arch | awk 'NR == 1 { sub("xxh3:", "", $1); print $1 }')
"$ARCHC" compile tiny.arch -o "$STATE/ir/$ID.air" 2>/dev/null
check "a spec stored in the state dir names them" status 0 "$ARCHC" state $S
check "... by its id and task" grep -q "^$K .* spec xxh3:$(echo "$ID" | cut -c1-8):t$" out.txt

# --- --remove ---------------------------------------------------------------------------
if command -v flock >/dev/null 2>&1; then
	# (flock's child holds the lock too: it is the one stopped)
	flock -n "$STATE/supernets/$K2/checkpoint.lock" sh -c 'echo $$ >holder.pid; exec sleep 30' &
	HOLDER=$!
	i=0
	while [ ! -s holder.pid ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	check "a supernet whose lock a training holds is not removed" status 1 "$ARCHC" state $S --remove "$K2"
	check "... saying why" grep -q "supernet $K2 not removed: .*checkpoint.lock" err.txt
	check "... and it is all there" test -s "$STATE/supernets/$K2/checkpoint"
	kill "$(cat holder.pid)" 2>/dev/null
	wait "$HOLDER" 2>/dev/null
else
	echo "# flock(1) not installed: the lock check skipped"
fi
check "--remove removes a supernet" status 0 "$ARCHC" state $S --remove "$K2"
check "... saying what it freed" grep -q "^removed supernet $K2 ([0-9.]* kB)$" out.txt
check "... all of it" test ! -e "$STATE/supernets/$K2"
check "the other stays" sh -c '"$0" state --state "$1" >out.txt && grep -q "^1 supernet in" out.txt && test -s "$1/supernets/$2/checkpoint"' "$ARCHC" "$STATE" "$K"
check "an unknown key is an input error" status 1 "$ARCHC" state $S --remove "$K2"
check "... naming it" grep -q "no supernet $K2 in $STATE" err.txt
check "a malformed key is a usage error" status 2 "$ARCHC" state $S --remove "../$K"
check "... saying what a key is" grep -q "is not a supernet key (32 lowercase hex digits" err.txt
check "--remove with --arch is a usage error" status 2 "$ARCHC" state $S --remove "$K" --arch tiny.arch
check "and removes nothing" test -s "$STATE/supernets/$K/checkpoint"
check "a file is not an input" status 2 "$ARCHC" state $S tiny.arch
lib_done
