#!/usr/bin/env bash
# The main job, end to end, on a local repository: install what is missing,
# build, generate a sample dataset, back it up, list, verify (key-less and
# full), restore, and compare the restored tree with the original.
# Everything lives under ${DEMO_DIR:-./demo}; remove it when done.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
make -s
bkp=$PWD/build/bkp
demo=$(realpath -m "${DEMO_DIR:-demo}")
rm -rf "$demo"
mkdir -p "$demo/data/ehr/patients" "$demo/data/ehr/notes" "$demo/data/ehr/imaging"
cd "$demo"
export BKP_PASSPHRASE=${BKP_PASSPHRASE:-demo passphrase, use a real one}
export BKP_STATE_DIR=$demo/state

echo "== generating a synthetic dataset (no real PHI)"
for i in $(seq 1 200); do
	printf 'id,name,dob,diagnosis\n%d,Patient %d,19%02d-0%d-1%d,code-%d\n' \
	    "$i" "$i" $((i % 100)) $((i % 9 + 1)) $((i % 9)) $((i * 7 % 97)) \
	    >"data/ehr/patients/p$i.csv"
done
for i in $(seq 1 50); do
	seq 1 $((i * 200)) | sed "s/^/note $i line /" >"data/ehr/notes/n$i.txt"
done
head -c 8388608 /dev/urandom >data/ehr/imaging/scan.dcm
ln -s ../patients/p1.csv data/ehr/notes/latest-patient
seq 1 100000 >db.sql

echo "== bkp keygen ops.key"
"$bkp" keygen ops.key
echo "== bkp init"
"$bkp" init -r repo --recipient ops.key.pub
echo "== bkp backup (directory), then a database dump from stdin"
"$bkp" backup -r repo --name ehr data/ehr
"$bkp" backup -r repo --name ehr-db --stdin-name ehr.sql - <db.sql
echo "== bkp list"
"$bkp" list -r repo
echo "== bkp verify --all (key-less, then full)"
"$bkp" verify -r repo --all
"$bkp" verify -r repo -k ops.key --all
echo "== bkp restore"
"$bkp" restore -r repo -k ops.key ehr:latest --target restored
"$bkp" restore -r repo -k ops.key ehr-db:latest --target restored-db
echo "== comparing"
diff -r data restored/data
cmp db.sql restored-db/ehr.sql
echo "demo: restored data is identical to the original (in $demo)"
