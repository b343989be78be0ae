#!/bin/sh
# tests/integration/archc_badinput.sh — the commands that touch the state
# dir and write files (eval, export, plot, compile, search, train) given
# what a careless or hostile user gives them: outputs that name an input,
# a file of the state dir, a directory or a FIFO, refused before any work
# with the reason and everything left as it was; gene strings and
# constraints with numbers no subnet or metric can have, refused as usage
# errors instead of answered with something else; inputs that are FIFOs
# refused instead of waited on.  Uses one tiny supernet
# (lib.sh's tiny_spec, task t) and its archive; a few seconds.  Prints TAP
# lines.
set -u
. "$(dirname "$0")/lib.sh"
lib_init archc_badinput
export ARCH_PATH=

status() { # expected status, command...
	want=$1
	shift
	"$@" >out.txt 2>err.txt
	[ $? -eq "$want" ]
}

tiny_spec
train_tiny t
S="--task t --state $STATE --threads 1"
P="--task t --state $STATE"
"$ARCHC" search tiny.arch $S --target small >/dev/null 2>&1
K=$(ls -d "$STATE"/supernets/*)
check "the tiny supernet is trained and has an archive" test -s "$K/checkpoint" -a -s "$K/archive-calib200"
cp tiny.arch tiny.orig
cp -R "$STATE" state.orig
"$ARCHC" eval tiny.arch --task t --state "$STATE" --subnet min --recal 0 -o m.model >/dev/null 2>&1
cp m.model m.orig
mkfifo fifo
mkdir adir
unchanged() { cmp -s tiny.arch tiny.orig && cmp -s m.model m.orig && diff -r "$STATE" state.orig >/dev/null && test -p fifo; }
E="eval tiny.arch --task t --state $STATE --subnet min --recal 0"

# --- outputs that would replace an input or a state file -------------------
check "eval -o the input file exits 2" status 2 "$ARCHC" $E -o ./tiny.arch
check "... naming both" grep -q "^archc eval: the output './tiny.arch' is the input file 'tiny.arch'; name another with -o$" err.txt
check "... and prints no result" test ! -s out.txt
check "eval -o the checkpoint exits 2" status 2 "$ARCHC" $E -o "$K/checkpoint"
check "... saying it is in the state dir" grep -q "is in the state dir, beside task t's supernet" err.txt
check "eval -o a new file beside the checkpoint exits 2" status 2 "$ARCHC" $E -o "$K/mine.model"
check "eval -o a FIFO exits 1" status 1 "$ARCHC" $E -o fifo
check "... saying why" grep -q "^archc eval: -o 'fifo' is not a regular file" err.txt
check "eval -o a directory exits 1 before measuring" status 1 "$ARCHC" $E -o adir
check "... saying so" grep -q "^archc eval: -o 'adir' is a directory; name a file$" err.txt
check "... and prints no result" test ! -s out.txt
check "export --onnx the .arch input exits 2" status 2 "$ARCHC" export tiny.arch --task t --state "$STATE" --subnet min --onnx tiny.arch
check "export --onnx the model file input exits 2" status 2 "$ARCHC" export m.model --onnx m.model
check "... naming it" grep -q "^archc export: the output 'm.model' is the input file 'm.model'; name another with --onnx$" err.txt
cp m.model m.h
check "export --c whose OUT.h is the input exits 2" status 2 "$ARCHC" export m.h --c m
check "... and m.h is left as it was" cmp -s m.h m.orig
check "export --onnx the archive exits 2" status 2 "$ARCHC" export tiny.arch --task t --state "$STATE" --subnet min --onnx "$K/archive-calib200"
check "plot -o the input exits 2" status 2 "$ARCHC" plot tiny.arch $P -o tiny.arch
check "plot -o the archive exits 2" status 2 "$ARCHC" plot tiny.arch $P -o "$K/archive-calib200"
check "plot -o a FIFO exits 1" status 1 "$ARCHC" plot tiny.arch $P -o fifo
check "compile -o a FIFO exits 1" status 1 "$ARCHC" compile tiny.arch -o fifo
check "every refused output left the input, model, FIFO and state dir as they were" unchanged
check "eval -o a new file still works" status 0 "$ARCHC" $E -o new.model
check "... and export of it too" status 0 "$ARCHC" export new.model --c newc

# --- gene strings --------------------------------------------------------------
cp tiny.orig tiny.arch # in case a check above failed and replaced it
# "inf" matched the first value of any gene: r12 instead of an error.
check "a gene string with 'inf' exits 2" status 2 "$ARCHC" eval tiny.arch --task t --state "$STATE" --subnet 'rinf:d2:k5,5:e3,3' --recal 0
check "... naming the value" grep -q "'inf' in group 'r' is not a number" err.txt
check "a hexadecimal gene exits 2" status 2 "$ARCHC" eval tiny.arch --task t --state "$STATE" --subnet 'r0x10:d2:k5,5:e3,3' --recal 0
check "a gene string ending in ':' exits 2" status 2 "$ARCHC" train tiny.arch --task t --state "$STATE" --subnet 'r16:d2:k5,5:e3,3:'
check "... saying so" grep -q "ends with ':'" err.txt

# --- constraints no subnet meets -------------------------------------------------
# accuracy>=90 (90% meant) used to run a targeted search before failing.
check "accuracy>=90 without % exits 2" status 2 "$ARCHC" search tiny.arch $S --constraint 'accuracy>=90'
check "... saying accuracy is at most 100%" grep -q "^archc search: constraint 'accuracy>=90': '>=90' is never met: accuracy is between 0 and 100%$" err.txt
check "macs<0 exits 2" status 2 "$ARCHC" search tiny.arch $S --constraint 'macs<0'
check "a hexadecimal bound exits 2" status 2 "$ARCHC" search tiny.arch $S --constraint 'macs<=0x10'
check "the refused searches left the state dir as it was" unchanged

# --- eval names supernets train can make -----------------------------------------
check "eval --seed beyond train's range exits 2" status 2 "$ARCHC" eval tiny.arch --task t --state "$STATE" --subnet min --seed 3000000000
check "... with train's range" grep -q "^archc eval: --seed '3000000000' is not an integer from 0 to 2147483647$" err.txt

# --- state files that are not files ------------------------------------------------
# A FIFO in the state dir blocked every reader (fopen waits for a writer).
cp tiny.orig tiny.arch
cp -R state.orig fifostate
F=$(ls -d fifostate/supernets/*)
rm "$F/archive-calib200" "$F/checkpoint"
mkfifo "$F/archive-calib200" "$F/checkpoint"
check "a FIFO for the archive is refused at once" status 1 timeout 20 "$ARCHC" archive tiny.arch --task t --state fifostate
check "... naming it" grep -q "$F/archive-calib200: not a regular file" err.txt
check "a FIFO for the checkpoint is refused at once" status 1 timeout 20 "$ARCHC" eval tiny.arch --task t --state fifostate --subnet min
check "... naming it" grep -q "$F/checkpoint: cannot read: not a regular file" err.txt
rm "$F/archive-calib200"
mkdir "$F/archive-calib200"
check "a directory for the archive is refused" status 1 "$ARCHC" archive tiny.arch --task t --state fifostate
check "... as one" grep -q "$F/archive-calib200: Is a directory" err.txt

# --- inputs that are not files ------------------------------------------------------
# Sniffing an input's first bytes (.air or .arch; a model file or not)
# waited on a FIFO for a writer.
mkfifo in.arch in.model
check "a FIFO as the .arch input is refused at once" status 1 timeout 20 "$ARCHC" check in.arch
check "... as not a regular file" grep -q "cannot read 'in.arch': not a regular file" err.txt
check "so is it by compile" status 1 timeout 20 "$ARCHC" compile in.arch -o in.air
check "a FIFO as export's model is refused at once" status 1 timeout 20 "$ARCHC" export in.model --onnx in.onnx
check "... as not a regular file" grep -q "in.model: not a regular file" err.txt

lib_done
