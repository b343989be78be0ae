#!/bin/sh
# tests/integration/archc_cli.sh — the archc command line as a user meets it:
# exit codes, output files, .air round trips, the identity rule, fmt, and
# the import search path.  Prints TAP lines.
set -u
ARCHC=${ARCHC:-$ARCHD_BUILDDIR/archc}
S=${ARCHD_SRCDIR:-.}
T=$(mktemp -d "${TMPDIR:-/tmp}/archc_cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
export ARCH_PATH=

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
no() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { # description, then a command that must succeed
	d=$1
	shift
	if "$@"; then ok "$d"; else no "$d"; fi
}
status() { # expected status, command...
	want=$1
	shift
	"$@" >out.txt 2>err.txt
	[ $? -eq "$want" ]
}

cp "$S/examples/fashion.arch" fashion.arch

# --- help, version, usage errors ---------------------------------------------
check "--help exits 0 and lists compile" sh -c '"$0" --help | grep -q "^  compile "' "$ARCHC"
check "--version exits 0" sh -c '"$0" --version | grep -q "^archc (archd) "' "$ARCHC"
check "--version names the inference kernels" sh -c '"$0" --version | grep -Eq "^inference kernels: (avx512|avx2|sse2|generic)$"' "$ARCHC"
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
	check "16-float ones on this AVX-512 CPU" sh -c '"$0" --version | grep -q "^inference kernels: avx512$"' "$ARCHC"
	check "8-float ones with ARCHD_AVX512=0" sh -c 'ARCHD_AVX512=0 "$0" --version | grep -q "^inference kernels: avx2$"' "$ARCHC"
else
	skip "16-float kernels on an AVX-512 CPU" "no AVX-512 here"
	skip "ARCHD_AVX512=0" "no AVX-512 here"
fi
check "help CMD prints the usage" sh -c '"$0" help compile | grep -q "^usage: archc compile"' "$ARCHC"
check "CMD --help prints the usage" sh -c '"$0" fmt --help | grep -q "^usage: archc fmt"' "$ARCHC"
check "unknown command exits 2" status 2 "$ARCHC" frobnicate x.arch
check "unknown command is named" grep -q "archc: unknown command 'frobnicate'" err.txt
check "a near miss is suggested" sh -c '"$0" compil x.arch 2>&1 | grep -q "did you mean .compile."' "$ARCHC"
check "unknown option exits 2" status 2 "$ARCHC" compile --bogus fashion.arch
check "no arguments exits 2" status 2 "$ARCHC"

# --- the command line, the same parser for every command ------------------------
for c in $("$ARCHC" --help | sed -n 's/^  \([a-z]*\) .*/\1/p'); do
	check "help $c prints its usage" sh -c '"$0" help "$1" | grep -q "^usage: archc $1 "' "$ARCHC" "$c"
	check "$c --help prints its usage" sh -c '"$0" "$1" --help | grep -q "^usage: archc $1 "' "$ARCHC" "$c"
done
check "no input file is named" status 2 "$ARCHC" compile
check "... as such" grep -q "^archc compile: no input file$" err.txt
check "... with the usage line" grep -q "^usage: archc compile " err.txt
check "two inputs are named" status 2 "$ARCHC" check fashion.arch other.arch
check "... both" grep -q "^archc check: one input file only ('fashion.arch' and 'other.arch')$" err.txt
check "an option without its value exits 2" status 2 "$ARCHC" compile fashion.arch -o
check "... naming it" grep -q "^archc compile: option '-o' needs a value$" err.txt
check "an option given twice exits 2" status 2 "$ARCHC" compile fashion.arch -o a.air -o b.air
check "... naming it" grep -q "^archc compile: option '-o' given twice$" err.txt
check "... and writes nothing" test ! -e a.air -a ! -e b.air
check "an empty value exits 2" status 2 "$ARCHC" subnets fashion.arch --count=
check "... naming it" grep -q "^archc subnets: option '--count' has an empty value$" err.txt
check "a flag with letters after it is unknown" status 2 "$ARCHC" fmt -wq fashion.arch
check "... named" grep -q "^archc fmt: unknown option '-wq'$" err.txt
check "a misspelt long option exits 2" status 2 "$ARCHC" subnets fashion.arch --tsak fashion
check "... with the option meant" grep -q "unknown option '--tsak'; did you mean '--task'?" err.txt
check "an integer out of range exits 2" status 2 "$ARCHC" subnets fashion.arch --count 100001
check "... with the range" grep -q "^archc subnets: --count '100001' is not an integer from 0 to 100000$" err.txt
check "-oVALUE is -o VALUE" status 0 "$ARCHC" compile -oattached.air fashion.arch
check "... written there" test -s attached.air
check "--name=VALUE is --name VALUE" status 0 "$ARCHC" subnets fashion.arch --count=1 --seed 7
check "... both taken" sh -c 'grep -q "^random:7 " out.txt && ! grep -q "^random:8 " out.txt'
check "a value given to a flag exits 2" status 2 "$ARCHC" search fashion.arch --json=yes --target t
check "... naming it" grep -q "^archc search: option '--json' takes no value$" err.txt
check "a repeatable option takes a bounded number of values" \
	status 2 "$ARCHC" search fashion.arch $(for i in $(seq 17); do echo "--constraint=macs<=1M"; done)
check "... saying so" grep -q "^archc search: option '--constraint' given more than 16 times$" err.txt
check "a long option of one letter is not a short one" status 2 "$ARCHC" export fashion.arch --subnet max --c a --c=b
check "... and is named as such" grep -q "^archc export: option '--c' given twice$" err.txt
check "... and -c is not it" status 2 "$ARCHC" export fashion.arch --subnet max -ca
check "... but unknown" grep -q "^archc export: unknown option '-ca'$" err.txt
cp fashion.arch ./-dash.arch
check "-- ends the options" status 0 "$ARCHC" check -- -dash.arch
check "without it such a file is an option" status 2 "$ARCHC" check -dash.arch
# Only the parser knows where a help flag may stand.
check "-h among the options prints the usage" status 0 "$ARCHC" fmt -h fashion.arch
check "... on stdout, alone" sh -c 'grep -q "^usage: archc fmt " out.txt && ! grep -q "^dataset" out.txt'
check "... and the command does nothing" status 0 "$ARCHC" compile fashion.arch -o help.air --help
check "... writes no file" test ! -e help.air
check "an option's value may be -h" status 0 "$ARCHC" compile fashion.arch -o -h
check "... it is the file written" sh -c 'test -s ./-h && ! grep -q "^usage:" out.txt'
check "after -- a -h is an input" status 0 "$ARCHC" dump -- -h
check "... read as one" grep -q "^module xxh3:" out.txt
check "an error before --help is reported" status 2 "$ARCHC" compile --bogus --help fashion.arch
check "... instead of the usage" sh -c '! grep -q "^usage:" out.txt && grep -q "unknown option .--bogus." err.txt'

# --- compile ------------------------------------------------------------------
check "compile exits 0" status 0 "$ARCHC" compile fashion.arch
check "compile writes FILE.air in the current directory" test -s fashion.air
mkdir -p sub
check "compile -o writes there" status 0 "$ARCHC" compile fashion.arch -o sub/out.air
check "-o file exists" test -s sub/out.air
check "compile -I DIR -o OUT (options anywhere)" status 0 "$ARCHC" compile -I sub -o sub/x.air fashion.arch

cat >bad.arch <<'A'
target t { macs <= 1M; macs >= 2M; }
A
check "compile of an invalid file exits 1" status 1 "$ARCHC" compile bad.arch
check "no default output on error" test ! -e bad.air
check "compile -o of an invalid file exits 1" status 1 "$ARCHC" compile bad.arch -o sub/bad.air
check "no -o output on error" test ! -e sub/bad.air
check "diagnostics go to stderr" grep -q "^bad.arch:1:24: error: contradictory constraints" err.txt
check "nothing on stdout on error" test ! -s out.txt
check "missing file exits 1" status 1 "$ARCHC" check nope.arch
check "missing file message names the path" sh -c '"$0" check nope.arch 2>&1 | grep -q "cannot read .nope.arch."' "$ARCHC"

# --- .air round trip ------------------------------------------------------------
"$ARCHC" dump fashion.arch >arch.dump 2>/dev/null
"$ARCHC" dump fashion.air >air.dump 2>/dev/null
check "dump of the .air equals dump of the .arch" cmp -s arch.dump air.dump
cp fashion.air renamed.arch
"$ARCHC" dump renamed.arch >renamed.dump 2>/dev/null
check ".air is recognised by its magic, not its name" cmp -s arch.dump renamed.dump
head -c 100 fashion.air >cut.air
check "a truncated .air is refused with status 1" status 1 "$ARCHC" dump cut.air
check "the refusal says why" test -s err.txt
check "check accepts a .air" status 0 "$ARCHC" check fashion.air

# --- identity -------------------------------------------------------------------
id_of() { "$ARCHC" id "$1" 2>/dev/null | head -n 1; }
base=$(id_of fashion.arch)
check "id prints xxh3: and 32 hex digits" sh -c 'echo "$0" | grep -Eq "^xxh3:[0-9a-f]{32}$"' "$base"
check "id prints one line per task with its supernet key" \
	sh -c '"$0" id fashion.arch | grep -Eq "^task fashion supernet xxh3:[0-9a-f]{32}$"' "$ARCHC"
check "id of the .air equals id of the .arch" test "$(id_of fashion.air)" = "$base"
"$ARCHC" fmt fashion.arch >formatted.arch
check "fmt keeps the id" test "$(id_of formatted.arch)" = "$base"
{ echo "# a comment at the top"; sed 's/#.*//' fashion.arch | tr -s ' '; echo "# and at the end"; } >comments.arch
check "comments and spacing keep the id" test "$(id_of comments.arch)" = "$base"
# Reorder: the objective first, the task before the space, imports swapped.
cat >reordered.arch <<'A'
import "std/targets.arch";
import "std/datasets.arch";
objective default { maximize accuracy; minimize macs; minimize latency; }
A
sed -n '/^task fashion {/,/^}/p' fashion.arch >>reordered.arch
sed -n '/^space mbnet_small {/,/^}/p' fashion.arch >>reordered.arch
awk '/^dataset fashion_small/ { p = 1 } p { print } p && /}[ \t]*$/ { exit }' fashion.arch >>reordered.arch
check "reordering declarations and imports keeps the id" test "$(id_of reordered.arch)" = "$base"
sed 's/epochs = \([0-9]*\);/epochs = 1\1;/' fashion.arch >edited.arch
check "a semantic edit changes the id" test "$(id_of edited.arch)" != "$base"
key() { "$ARCHC" id "$1" 2>/dev/null | grep '^task fashion ' ; }
check "a recipe edit changes the supernet key" test "$(key edited.arch)" != "$(key fashion.arch)"
sed 's/^import "std\/targets.arch";.*$/import "std\/targets.arch";\ntarget extra { macs <= 3M; }/' fashion.arch >target.arch
check "a new target changes the id" test "$(id_of target.arch)" != "$base"
check "a new target keeps the supernet key" test "$(key target.arch)" = "$(key fashion.arch)"
# The train block moved into a named recipe: the same IR.
{
	sed '/^    train {/,/^    }/c\    train = fashion_recipe;' fashion.arch
	echo 'recipe fashion_recipe {'
	sed -n '/^    train {/,/^    }/p' fashion.arch | sed '1d;$d'
	echo '}'
} >recipe.arch
check "a train block moved into a named recipe keeps the id" test "$(id_of recipe.arch)" = "$base"

# --- fmt ------------------------------------------------------------------------
cp comments.arch w.arch
check "fmt -w exits 0" status 0 "$ARCHC" fmt -w w.arch
check "fmt -w prints nothing" test ! -s out.txt
"$ARCHC" fmt w.arch >w2.arch
check "fmt -w output is already formatted (idempotent)" cmp -s w.arch w2.arch
check "fmt -w keeps the id" test "$(id_of w.arch)" = "$base"
check "fmt -w leaves no temporary file" test -z "$(ls | grep fmt-)"
printf 'dataset d {\n  format = idx\n}\n' >syntax.arch
cp syntax.arch syntax.orig
check "fmt refuses a file with syntax errors (status 1)" status 1 "$ARCHC" fmt -w syntax.arch
check "the refused file is unchanged" cmp -s syntax.arch syntax.orig

# --- the import search path ------------------------------------------------------------
mkdir -p inc ap1 ap2 proj
cat >inc/lib.arch <<'A'
target from_include { macs <= 1M; }
A
cat >ap2/pathlib.arch <<'A'
target from_arch_path { params <= 10K; }
A
printf 'import "lib.arch";\n' >proj/uses_inc.arch
check "-I finds an import" status 0 "$ARCHC" dump -I inc proj/uses_inc.arch
check "the imported target is in the IR" grep -q "^target from_include" out.txt
check "without -I the import is missing (status 1)" status 1 "$ARCHC" check proj/uses_inc.arch
check "the message names the import and the dirs searched" \
	grep -q "cannot find import 'lib.arch' (searched: proj, " err.txt
printf 'import "pathlib.arch";\n' >proj/uses_path.arch
check "ARCH_PATH directories are searched in order" \
	sh -c 'ARCH_PATH="$1/ap1:$1/ap2" "$0" dump proj/uses_path.arch | grep -q "^target from_arch_path"' "$ARCHC" "$T"
cp inc/lib.arch proj/lib.arch
sed -i 's/from_include/from_own_dir/' proj/lib.arch
check "-I comes before the importing file's directory" \
	sh -c '"$0" dump -I inc proj/uses_inc.arch | grep -q "^target from_include"' "$ARCHC"
check "the importing file's directory is searched" \
	sh -c '"$0" dump proj/uses_inc.arch | grep -q "^target from_own_dir"' "$ARCHC"

# Relative dataset paths are stored absolute, against the declaring file.
mkdir -p proj/data
cat >proj/rel.arch <<'A'
dataset t { format = csv; train = "data/t.csv"; test = 10; features = 4; classes = 2; }
space m { input features = 4; stage h { depth in 1..2; block = dense(out = 4); } head fc(classes); }
task k { data = t; space = m; }
A
check "a relative dataset path becomes absolute" \
	sh -c 'cd "$1/sub" && "$0" dump ../proj/rel.arch | grep -q "train_images \"$1/proj/data/t.csv\""' "$ARCHC" "$(cd "$T" && pwd -P)"

# Warnings alone do not fail.
cat >warn.arch <<'A'
dataset t { format = csv; train = "/d/t.csv"; test = 10; features = 4; classes = 2; train_limit = 100; holdout = 60; }
space m { input features = 4; stage h { depth = 1; block = dense(out = 4); } head fc(classes); }
task k { data = t; space = m; }
A
check "warnings exit 0" status 0 "$ARCHC" check warn.arch
check "the single-subnet warning is shown" grep -q "warning: space 'm' has only one subnet" err.txt
check "the large-holdout warning is shown" grep -q "warning: holdout 60 is more than half of the 100 training examples" err.txt

# Lowering and import loading recurse once per link: past their limits a
# long chain is one error, not a crashed compiler (or archd, which compiles
# uploads the same way).
{
	echo 'import "std/datasets.arch";'
	echo 'dataset d from fashion_mnist { holdout = 100; }'
	i=1000
	while [ $i -gt 0 ]; do echo "task t$i { from = t$((i - 1)); data = d; }"; i=$((i - 1)); done
	echo 'space s { input channels = 1; resolution = 12; stem conv(kernel = 3, out = 8, stride = 2);'
	echo '  stage a { depth in 1..2; block = mbconv(kernel = 3, expand = 2, out = 8, stride = 1); }'
	echo '  head pool, fc(classes); }'
	echo 'task t0 { data = d; space = s; }'
} >chain.arch
check "a 1000-link 'from' chain is refused" status 1 "$ARCHC" check chain.arch
check "... once, naming the limit" sh -c "test \$(grep -c 'error:' err.txt) -eq 1 && grep -q \"'t799' is more than 200 'from' links deep\" err.txt"
mkdir -p deep
i=0
while [ $i -lt 100 ]; do echo "import \"f$((i + 1)).arch\";" >deep/f$i.arch; i=$((i + 1)); done
echo 'objective o { maximize accuracy; }' >deep/f100.arch
check "imports nested 100 deep are refused" status 1 "$ARCHC" check deep/f0.arch
check "... naming the limit" grep -q "imports nested more than 64 deep" err.txt

# Bytes no text file holds: a NUL would end a string (or comment) and drop
# the rest of it, a lone CR would make a comment run to the end of the file.
printf 'objective o { maximize accuracy; }\n# a\000b\n' >nul.arch
check "a NUL byte is an error" status 1 "$ARCHC" check nul.arch
check "... at its place" grep -q "^nul.arch:2:4: error: a NUL byte (0x00)" err.txt
printf '# old Mac endings\rdataset d { format = bogus; }\r' >cr.arch
check "a lone carriage return is an error" status 1 "$ARCHC" check cr.arch
check "... naming the line endings" grep -q "^cr.arch:1:18: error: a carriage return without a newline after it" err.txt
printf 'objective o { maximize accuracy; }\r\n' >crlf.arch
check "CRLF line endings are fine" status 0 "$ARCHC" check crlf.arch

# fmt -w through a symlink formats the file it names and keeps the link;
# fmt refuses what is not a regular file (it would read /dev/zero forever).
mkdir -p sl
printf 'objective   o {maximize accuracy;}\n' >sl/real.arch
ln -sf real.arch sl/link.arch
check "fmt -w through a symlink" status 0 "$ARCHC" fmt -w sl/link.arch
check "... rewrites the file it names" grep -qx '    maximize accuracy;' sl/real.arch
check "... and keeps the link" test -L sl/link.arch
check "fmt refuses a device" status 1 "$ARCHC" fmt /dev/zero
check "... saying why" grep -qx "archc fmt: cannot read '/dev/zero': not a regular file" err.txt
# compile -o naming the input would have overwritten the source with the IR.
cp sl/real.arch same.arch
check "compile -o the input file itself exits 2" status 2 "$ARCHC" compile same.arch -o ./same.arch
check "... leaving the source as it was" cmp -s same.arch sl/real.arch

echo "1..$n"
[ "$fails" -eq 0 ]
