# Gates: when: on a step, over metrics and params.
. "$(dirname "$0")/lib.sh"
cd "$T"
pipeline g <<'YAML'
pipeline: g
params: {min_acc: 0.5, acc: 0.8}
steps:
  evaluate:
    kind: evaluate
    run: |
      printf '{"accuracy": %s, "eval": {"auc": 0.7}}' "$KILN_PARAM_ACC" > "$KILN_METRICS"
  deploy:
    kind: deploy
    needs: [evaluate]
    when: metrics.evaluate.accuracy >= params.min_acc && !(metrics.evaluate.eval.auc < 0.5)
    run: touch deployed-$KILN_RUN_ID
  notify:
    needs: [deploy]
    run: touch notified-$KILN_RUN_ID
YAML
kiln_rc run g.yaml
eq "gate true: exit 0" 0 "$rc"
check "deploy ran" test -e deployed-1
check "notify ran" test -e notified-1

kiln_rc run g.yaml --param min_acc=0.9
eq "gate false: still exit 0" 0 "$rc"
check "deploy did not run" test ! -e deployed-2
eq "recorded as gated with the values" \
    "gated|gated: metrics.evaluate.accuracy >= params.min_acc && !(metrics.evaluate.eval.auc < 0.5) was false (metrics.evaluate.accuracy = 0.8, params.min_acc = 0.9, metrics.evaluate.eval.auc = 0.7)" \
    "$(q "select status, reason from run_steps where run_id = 2 and step = 'deploy'")"
eq "downstream skipped" 'skipped|upstream step "deploy" was gated' \
    "$(q "select status, reason from run_steps where run_id = 2 and step = 'notify'")"
eq "the run succeeded" succeeded "$(q 'select status from runs where id = 2')"
eq "no execution for gated steps" 0 "$(q "select count(*) from executions where run_id = 2 and step in ('deploy', 'notify')")"
kiln_rc show 2
contains "show marks it" "gated" "$out"

# A metric the step did not produce fails the gated step.
sed -i 's/eval.auc < 0.5/eval.f1 < 0.5/' g.yaml
kiln_rc run g.yaml
eq "missing metric: exit 1" 1 "$rc"
eq "a clear failure" "failed|gate metrics.evaluate.accuracy >= params.min_acc && !(metrics.evaluate.eval.f1 < 0.5): metric metrics.evaluate.eval.f1 was not recorded" \
    "$(q "select status, reason from run_steps where run_id = 3 and step = 'deploy'")"
eq "the run failed" failed "$(q 'select status from runs where id = 3')"

# Bad gates are validate-time errors at their line:col.
pipeline bad <<'YAML'
pipeline: bad
params: {min: 1}
steps:
  a: {run: "true"}
  b: {run: "true"}
  c:
    needs: [a]
    when: metrics.aa.x > 1 || metrics.b.x > params.max || params.min >= 1
    run: "true"
  d: {needs: [a], run: "true", when: "metrics.a.x >> 1"}
YAML
kiln_rc validate bad.yaml # relative, so messages say bad.yaml
eq "invalid gates" 2 "$rc"
eq "errors with positions" "bad.yaml:8:11: error: when: unknown step \"aa\"
bad.yaml:8:31: error: when: step \"b\" is not upstream of \"c\", so its metrics are not known yet (add it to needs:)
bad.yaml:8:45: error: when: unknown parameter \"max\" (declare it under params:)
bad.yaml:10:52: error: when: expected a number, metrics.STEP.KEY or params.NAME" "$err"

# A long gate with arithmetic: its explanation whole, in kiln run's
# progress and the record, each value named once however often it is
# read; the decision recorded either way.
pipeline long <<'YAML'
pipeline: long
params: {min_auc_for_the_production_candidate: 0.95, another_long_parameter_name: 3}
steps:
  evaluate_the_candidate_model:
    run: |
      echo '{"accuracy_on_the_holdout_set": 0.91, "area_under_the_curve": 0.88}' > "$KILN_METRICS"
  deploy:
    needs: [evaluate_the_candidate_model]
    when: metrics.evaluate_the_candidate_model.accuracy_on_the_holdout_set >= params.min_auc_for_the_production_candidate && metrics.evaluate_the_candidate_model.area_under_the_curve > params.min_auc_for_the_production_candidate - 0.02 && metrics.evaluate_the_candidate_model.accuracy_on_the_holdout_set * params.another_long_parameter_name > 1
    run: "true"
YAML
kiln_rc run long.yaml
eq "a gate saying no: the run succeeds" 0 "$rc"
why='gated: metrics.evaluate_the_candidate_model.accuracy_on_the_holdout_set >= params.min_auc_for_the_production_candidate && metrics.evaluate_the_candidate_model.area_under_the_curve > params.min_auc_for_the_production_candidate - 0.02 && metrics.evaluate_the_candidate_model.accuracy_on_the_holdout_set * params.another_long_parameter_name > 1 was false (metrics.evaluate_the_candidate_model.accuracy_on_the_holdout_set = 0.91, params.min_auc_for_the_production_candidate = 0.95, metrics.evaluate_the_candidate_model.area_under_the_curve = 0.88, params.another_long_parameter_name = 3)'
contains "kiln run prints it whole" "$why" "$out"
eq "the record holds it whole" "$why" "$(q "select reason from run_steps where step = 'deploy' and run_id = (select max(id) from runs)")"
eq "the decision with each value, recorded" "False 0.91 3.0" \
    "$(q "select gate from run_steps where step = 'deploy' and run_id = (select max(id) from runs)" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["passed"], d["values"]["metrics.evaluate_the_candidate_model.accuracy_on_the_holdout_set"], d["values"]["params.another_long_parameter_name"])')"
finish
