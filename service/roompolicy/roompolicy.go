// Package roompolicy decides, with a CEL expression, which rooms a verified
// caller may join.
//
// The expression sees two variables:
//
//	request  lktoken.v1.GenerateTokenRequest  the request as sent, identity filled in
//	claims   map(string, dyn)                 the verified token's claims
//
// and must be a bool: true lets the caller have the token. For example
//
//	request.room_name.startsWith(claims.org + "-") || request.room_name == "lobby"
//
// It is parsed and type-checked once, by Compile, at start-up; a mistake is
// an error naming its line and column. Evaluation never fails open: an error
// (a claim the token lacks, a claim of another type, the cost limit) is a
// denial whose Decision carries the reason, for the audit log. The policy
// chooses rooms; it never grants anything.
package roompolicy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/checker"
	"cel.dev/cel-go/common"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/service/setting"
)

// FieldExpression is the expression, as [Compile]'s errors name it (package
// setting): package config renders it as the flag or variable the user set.
const FieldExpression setting.Field = "roompolicy.Expression"

// sourceName is what CEL calls the expression; compileError replaces it by
// FieldExpression.
const sourceName = "expression"

// costLimit bounds one evaluation (CEL's runtime cost units: roughly one
// per operation, per list element, per byte compared in long strings). A
// room policy needs far less; a pathological one is refused at runtime.
const costLimit = 100_000

// maxExpressionBytes bounds the expression itself.
const maxExpressionBytes = 16 << 10

// Policy is a compiled room policy. It is safe for concurrent use.
type Policy struct {
	src string
	prg cel.Program
	// info locates an evaluation error's node in src.
	info *celast.SourceInfo
	// limited: the program tracks its cost at runtime (its static
	// estimate exceeds costLimit).
	limited bool
}

// Compile parses and type-checks expr. The error, if any, is a
// [setting.Error] naming [FieldExpression]: CEL's own issues, each with its
// position (FieldExpression:1:12) and a caret under it.
func Compile(expr string) (*Policy, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, setting.Errorf("%s: the policy expression is empty", FieldExpression)
	}
	if len(expr) > maxExpressionBytes {
		return nil, setting.Errorf("%s: the policy expression is longer than %d bytes", FieldExpression, maxExpressionBytes)
	}
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("room policy environment: %w", err)
	}
	src := common.NewStringSource(expr, sourceName)
	ast, iss := env.CompileSource(src)
	if iss.Err() != nil {
		return nil, compileError(iss.Errors(), src)
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) {
		return nil, setting.Errorf("%s: the expression must be a bool (true lets the caller join), but its type is %s", FieldExpression, t)
	}
	// Runtime cost tracking triples the price of an evaluation (measured: 1.3
	// against 4 us for BenchmarkEvaluate's policy, request.room_name.startsWith(
	// claims.org + "-") || request.room_name == "lobby"). A policy whose worst case,
	// estimated statically from the largest inputs there can be, stays under
	// the limit needs none; any other (comprehensions over claims, say) runs
	// with the limit and the context's cancellation.
	p := &Policy{src: expr, info: ast.NativeRep().SourceInfo()}
	est, err := env.EstimateCost(ast, sizeBounds{})
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if err != nil || est.Max > costLimit {
		p.limited = true
		opts = append(opts, cel.CostLimit(costLimit), cel.InterruptCheckFrequency(100))
	}
	if p.prg, err = env.Program(ast, opts...); err != nil {
		return nil, setting.Errorf("%s: %w", FieldExpression, err)
	}
	return p, nil
}

// compileError is CEL's issues, each as CEL displays it (position, message,
// the line and a caret) but naming FieldExpression instead of sourceName.
func compileError(issues []*common.Error, src common.Source) error {
	errs := make([]error, len(issues))
	for i, e := range issues {
		msg := strings.TrimPrefix(e.ToDisplayString(src), "ERROR: "+sourceName+":")
		errs[i] = setting.Errorf("%s:%s", FieldExpression, msg)
	}
	return errors.Join(errs...)
}

// maxClaimsBytes bounds the size of anything taken from claims: they come
// from a verified token, which the verifier caps at 8 KiB.
const maxClaimsBytes = 8 << 10

// maxRequestBytes bounds the size of anything in a request: the contract's
// largest field is participant_metadata (512 KiB).
const maxRequestBytes = 512 << 10

// sizeBounds gives CEL's cost estimator the largest size each input can
// have.
type sizeBounds struct{}

func (sizeBounds) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	path := n.Path()
	if len(path) == 0 {
		return nil
	}
	limit := uint64(maxClaimsBytes)
	if path[0] == "request" {
		limit = 256
		if slices.Contains(path, "participant_metadata") || slices.Contains(path, "participant_attributes") {
			limit = maxRequestBytes
		}
	}
	return &checker.SizeEstimate{Min: 0, Max: limit}
}

func (sizeBounds) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Types(&lktokenv1.GenerateTokenRequest{}),
		cel.Variable("request", cel.ObjectType("lktoken.v1.GenerateTokenRequest")),
		cel.Variable("claims", cel.MapType(cel.StringType, cel.DynType)),
		// claims.?org.orValue("") for claims a token may lack.
		cel.OptionalTypes(),
		// lowerAscii, split, replace, ...: what room naming rules need.
		ext.Strings(),
		// Claims are JSON numbers (int or double): 3 == 3.0 and level > 2.
		cel.CrossTypeNumericComparisons(true),
	)
}

// Source is the expression as configured.
func (p *Policy) Source() string { return p.src }

// Outcome of one evaluation.
type Outcome int

const (
	// Allowed: the expression was true.
	Allowed Outcome = iota + 1
	// Denied: the expression was false.
	Denied
	// Failed: evaluation failed, which denies (fail closed).
	Failed
)

func (o Outcome) String() string {
	switch o {
	case Allowed:
		return "allowed"
	case Denied:
		return "denied"
	case Failed:
		return "error"
	}
	return "unknown"
}

// Decision is the policy's answer for one request.
type Decision struct {
	Outcome Outcome
	// Err is why evaluation failed (Outcome Failed): where in the policy
	// and what kind of error, such as "at line 1, column 30: no such key".
	// It never quotes a value (CEL's own messages do: a claim in an invalid
	// timestamp, a missing map key), and is for the server's log, not for
	// the caller.
	Err error
}

// Allow reports whether the policy lets this caller have a token for req.
func (d Decision) Allow() bool { return d.Outcome == Allowed }

// Evaluate runs the policy for req (as sent, identity filled in) and the
// caller's verified claims. Only a true result allows.
func (p *Policy) Evaluate(ctx context.Context, req *lktokenv1.GenerateTokenRequest, claims map[string]any) Decision {
	if claims == nil {
		claims = map[string]any{}
	}
	vars := &activation{req: req, claims: claims}
	var out ref.Val
	var err error
	if p.limited {
		out, _, err = p.prg.ContextEval(ctx, vars)
	} else {
		out, _, err = p.prg.Eval(vars)
	}
	if err != nil {
		return Decision{Outcome: Failed, Err: p.evalError(err)}
	}
	b, ok := out.Value().(bool)
	if !ok {
		// Type-checking makes this unreachable; deny all the same.
		return Decision{Outcome: Failed, Err: fmt.Errorf("the policy gave %s, not a bool", out.Type())}
	}
	if b {
		return Decision{Outcome: Allowed}
	}
	return Decision{Outcome: Denied}
}

// activation binds the two variables without a map per evaluation.
type activation struct {
	req    *lktokenv1.GenerateTokenRequest
	claims map[string]any
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		return a.req, true
	case "claims":
		return a.claims, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// evalError says where err happened and its kind, without the values CEL's
// message may quote.
func (p *Policy) evalError(err error) error {
	kind := errorKind(err)
	var cerr *types.Err
	if errors.As(err, &cerr) && cerr.NodeID() != 0 {
		if loc := p.info.GetStartLocation(cerr.NodeID()); loc.Line() > 0 {
			return fmt.Errorf("at line %d, column %d: %s", loc.Line(), loc.Column()+1, kind)
		}
	}
	return errors.New(kind)
}

// errorKinds are the CEL runtime errors a policy meets: the start of the
// message, and the kind that is all that is kept of it.
var errorKinds = [][2]string{
	{"no such key", "no such key"},
	{"no such overload", "no such overload"},
	{"no such attribute", "no such attribute"},
	{"no such field", "no such field"},
	{"invalid RFC 3339 timestamp", "invalid RFC 3339 timestamp"},
	{"type conversion error", "type conversion error"},
	{"range error", "range error"},
	{"integer overflow", "integer overflow"},
	{"division by zero", "division by zero"},
	{"modulus by zero", "modulus by zero"},
	{"index", "index out of range"},
	{"error parsing regexp", "error parsing regexp"},
	{"invalid UTF-8", "invalid UTF-8"},
	{"optional.none() dereference", "optional.none() dereference"},
	{"NaN values cannot be ordered", "NaN values cannot be ordered"},
	{"operation cancelled: actual cost limit exceeded", "cost limit exceeded"},
	{"operation interrupted", "operation interrupted"},
}

// errorKind is the kind of an evaluation error: a known message's start, or
// "evaluation error" (with the cause's Go type, which holds no value).
func errorKind(err error) string {
	msg := err.Error()
	for _, k := range errorKinds {
		if strings.HasPrefix(msg, k[0]) {
			return k[1]
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "canceled"
	}
	return "evaluation error"
}
