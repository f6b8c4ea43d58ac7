//! `#[step]` and `#[pipeline]`, the attributes of the Weir Rust SDK. Use them through
//! the `weir` crate (`use weir::{step, pipeline};`); the code they generate names
//! `::weir`.
//!
//! A `#[step]` function keeps its body (callable as `name::call(…)`), and its name
//! becomes the function a pipeline calls with typed handles: `train(dataset)` where
//! `dataset: Output<Dataset>` records an edge of the DAG. A wrong edge does not compile.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use sha2::{Digest, Sha256};
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, FnArg, GenericArgument, Ident, ItemFn, LitBool, LitInt, LitStr, Pat,
    PathArguments, ReturnType, Type,
};

/// The most retries a step may ask for (the server's limit).
const MAX_RETRIES: u32 = 10;
/// The longest step timeout, in seconds (7 days; the server's limit).
const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 3600;

/// Marks a function as a pipeline step.
///
/// ```ignore
/// #[step(enable_cache = false, retries = 2, timeout = "10m", outputs(train, test))]
/// fn split(data: Dataset, test_fraction: f64) -> Result<(Dataset, Dataset), Error> { … }
/// ```
///
/// Settings: `enable_cache` (default true), `retries` (0 to 10), `timeout` (`"90s"`,
/// `"10m"`, `"2h"` or seconds), `name` (the step's name in the DAG, default the
/// function's), `outputs(a, b)` (the output names; default `output`, or `output_0`,
/// `output_1`, … for a tuple).
#[proc_macro_attribute]
pub fn step(attr: TokenStream, item: TokenStream) -> TokenStream {
    match expand_step(attr.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Marks a function as a pipeline: its body calls steps, wiring their outputs into
/// other steps' inputs. Its arguments are the pipeline's parameters; `#[default(…)]`
/// gives one a default. The function becomes a value to pass to `weir::main`.
///
/// ```ignore
/// /// Trains and evaluates a classifier.
/// #[pipeline(name = "iris")]
/// fn iris(#[default(0.2)] test_fraction: f64) {
///     let (train, test) = split(load(), test_fraction);
///     evaluate(fit(train), test);
/// }
/// ```
#[proc_macro_attribute]
pub fn pipeline(attr: TokenStream, item: TokenStream) -> TokenStream {
    match expand_pipeline(attr.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[derive(Default)]
struct StepArgs {
    name: Option<String>,
    enable_cache: Option<bool>,
    retries: Option<u32>,
    timeout_secs: Option<u64>,
    outputs: Option<(Vec<String>, Span)>,
    /// `model`, `data` or `deployment`: what the outputs are to the pipeline's model.
    output_kind: Option<String>,
}

fn parse_step_args(attr: TokenStream2) -> syn::Result<StepArgs> {
    let mut args = StepArgs::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("enable_cache") {
            args.enable_cache = Some(meta.value()?.parse::<LitBool>()?.value);
        } else if meta.path.is_ident("retries") {
            let lit: LitInt = meta.value()?.parse()?;
            let retries: u32 = lit.base10_parse()?;
            if retries > MAX_RETRIES {
                return Err(syn::Error::new(
                    lit.span(),
                    format!("retries must be at most {MAX_RETRIES}"),
                ));
            }
            args.retries = Some(retries);
        } else if meta.path.is_ident("timeout") {
            let value: Expr = meta.value()?.parse()?;
            args.timeout_secs = Some(parse_timeout(&value)?);
        } else if meta.path.is_ident("name") {
            let lit: LitStr = meta.value()?.parse()?;
            check_identifier(&lit.value(), lit.span(), "a step name")?;
            args.name = Some(lit.value());
        } else if meta.path.is_ident("outputs") {
            let mut names = Vec::new();
            let span = meta.path.span();
            meta.parse_nested_meta(|output| {
                let ident = output
                    .path
                    .get_ident()
                    .ok_or_else(|| output.error("expected an output name"))?;
                let name = ident.to_string();
                check_identifier(&name, ident.span(), "an output name")?;
                if names.contains(&name) {
                    return Err(output.error(format!("output `{name}` is named twice")));
                }
                names.push(name);
                Ok(())
            })?;
            args.outputs = Some((names, span));
        } else if meta.path.is_ident("output_kind") {
            let lit: LitStr = meta.value()?.parse()?;
            if !matches!(lit.value().as_str(), "model" | "data" | "deployment") {
                return Err(syn::Error::new(
                    lit.span(),
                    "output_kind must be \"model\", \"data\" or \"deployment\"",
                ));
            }
            args.output_kind = Some(lit.value());
        } else {
            return Err(meta.error(
                "unknown step setting: expected enable_cache, retries, timeout, name, outputs(…) or output_kind",
            ));
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(args)
}

/// `"90s"`, `"10m"`, `"2h"`, `"1d"`, `"300"` or `300`: seconds, 1 to 7 days.
fn parse_timeout(value: &Expr) -> syn::Result<u64> {
    let (text, span) = match value {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => (s.value(), s.span()),
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => (i.base10_digits().to_string(), i.span()),
        other => {
            return Err(syn::Error::new(
                other.span(),
                "timeout is a duration such as \"90s\", \"10m\" or \"2h\", or a number of seconds",
            ));
        }
    };
    let secs = timeout_secs(&text).ok_or_else(|| {
        syn::Error::new(
            span,
            format!("`{text}` is not a duration such as \"90s\", \"10m\" or \"2h\""),
        )
    })?;
    if !(1..=MAX_TIMEOUT_SECS).contains(&secs) {
        return Err(syn::Error::new(
            span,
            "timeout must be between 1 second and 7 days",
        ));
    }
    Ok(secs)
}

fn timeout_secs(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let factor = match unit.trim() {
        "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// Step, input, output and parameter names: `[a-z][a-z0-9_]{0,62}`, as the server
/// requires.
fn check_identifier(name: &str, span: Span, what: &str) -> syn::Result<()> {
    let bytes = name.as_bytes();
    let valid = (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_');
    if valid {
        Ok(())
    } else {
        Err(syn::Error::new(
            span,
            format!(
                "`{name}` cannot be {what}: names are a lowercase letter, then lowercase \
                 letters, digits or '_' (at most 63)"
            ),
        ))
    }
}

/// What a step function returns.
enum Returns {
    /// `Result<T, E>`: `T` is the output (or outputs).
    Result(Type),
    /// A plain value (a step that cannot fail).
    Value(Type),
    Nothing,
}

fn returns(output: &ReturnType) -> Returns {
    let ty = match output {
        ReturnType::Default => return Returns::Nothing,
        ReturnType::Type(_, ty) => ty.as_ref(),
    };
    if let Type::Path(path) = ty
        && let Some(last) = path.path.segments.last()
        && last.ident == "Result"
        && let PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(GenericArgument::Type(ok)) = args.args.first()
    {
        return Returns::Result(ok.clone());
    }
    if is_unit(ty) {
        Returns::Nothing
    } else {
        Returns::Value(ty.clone())
    }
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

/// A step argument: its name and type.
struct StepInput {
    ident: Ident,
    name: String,
    ty: Type,
}

fn step_inputs(item: &ItemFn) -> syn::Result<Vec<StepInput>> {
    let mut inputs = Vec::new();
    for arg in &item.sig.inputs {
        let FnArg::Typed(typed) = arg else {
            return Err(syn::Error::new(
                arg.span(),
                "a step is a free function: it cannot take `self`",
            ));
        };
        let Pat::Ident(pat) = typed.pat.as_ref() else {
            return Err(syn::Error::new(
                typed.pat.span(),
                "step arguments are plain names (each is an input of the step)",
            ));
        };
        if let Type::Reference(r) = typed.ty.as_ref() {
            return Err(syn::Error::new(
                r.span(),
                "step inputs are owned values (they are read from artifacts): take `T`, not `&T`",
            ));
        }
        let name = pat.ident.to_string();
        check_identifier(&name, pat.ident.span(), "an input name")?;
        inputs.push(StepInput {
            ident: pat.ident.clone(),
            name,
            ty: (*typed.ty).clone(),
        });
    }
    Ok(inputs)
}

fn split_docs(attrs: &[Attribute]) -> (Vec<Attribute>, Vec<Attribute>) {
    attrs
        .iter()
        .cloned()
        .partition(|a| a.path().is_ident("doc"))
}

fn doc_text(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if let syn::Meta::NameValue(nv) = &attr.meta
            && nv.path.is_ident("doc")
            && let Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            lines.push(s.value().trim().to_string());
        }
    }
    // The first paragraph, on one line: the pipeline's description.
    lines
        .into_iter()
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn expand_step(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let args = parse_step_args(attr)?;
    let item: ItemFn = syn::parse2(item)?;
    let sig = &item.sig;
    if sig.asyncness.is_some() {
        return Err(syn::Error::new(
            sig.asyncness.span(),
            "steps are synchronous functions (each runs in its own process)",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a step cannot be generic: its input and output types are recorded in the pipeline",
        ));
    }
    if sig.variadic.is_some() || sig.unsafety.is_some() || sig.constness.is_some() {
        return Err(syn::Error::new(sig.span(), "a step is a plain function"));
    }
    let fn_name = sig.ident.clone();
    let step_name = match &args.name {
        Some(name) => name.clone(),
        None => {
            let name = fn_name.to_string();
            check_identifier(&name, fn_name.span(), "a step name").map_err(|e| {
                syn::Error::new(
                    e.span(),
                    format!("{e}; rename the function or give `#[step(name = \"…\")]`"),
                )
            })?;
            name
        }
    };
    let inputs = step_inputs(&item)?;

    let (ok_type, fallible) = match returns(&sig.output) {
        Returns::Result(ty) => (Some(ty), true),
        Returns::Value(ty) => (Some(ty), false),
        Returns::Nothing => (None, false),
    };
    // The output types, and their names.
    let output_types: Vec<Type> = match &ok_type {
        None => vec![],
        Some(ty) if is_unit(ty) => vec![],
        Some(Type::Tuple(tuple)) => tuple.elems.iter().cloned().collect(),
        Some(ty) => vec![ty.clone()],
    };
    let is_tuple = matches!(&ok_type, Some(Type::Tuple(t)) if !t.elems.is_empty());
    let output_names: Vec<String> = match &args.outputs {
        Some((names, span)) => {
            if names.len() != output_types.len() {
                return Err(syn::Error::new(
                    *span,
                    format!(
                        "outputs(…) names {} output(s) but the step returns {}",
                        names.len(),
                        output_types.len()
                    ),
                ));
            }
            names.clone()
        }
        None if is_tuple => (0..output_types.len())
            .map(|i| format!("output_{i}"))
            .collect(),
        None => output_types.iter().map(|_| "output".to_string()).collect(),
    };
    for input in &inputs {
        if output_names.contains(&input.name) {
            return Err(syn::Error::new(
                input.ident.span(),
                format!(
                    "input `{}` has the name of an output; name the outputs with outputs(…)",
                    input.name
                ),
            ));
        }
    }

    // The code hash: the function as written (attributes, signature and body) with the
    // step's settings, so a changed body misses the cache.
    let code_hash = {
        let mut hasher = Sha256::new();
        hasher.update(b"weir-rust-step-v1\0");
        hasher.update(quote!(#item).to_string().as_bytes());
        let digest = hasher.finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    };

    let (doc_attrs, other_attrs) = split_docs(&item.attrs);
    let vis = &item.vis;
    let body_fn = format_ident!("__weir_body_{}", fn_name);
    let run_fn = format_ident!("__weir_run_{}", fn_name);
    let def_static = format_ident!("__weir_step_{}", fn_name);
    let block = &item.block;
    let output = &sig.output;
    let arg_idents: Vec<&Ident> = inputs.iter().map(|i| &i.ident).collect();
    let arg_names: Vec<&String> = inputs.iter().map(|i| &i.name).collect();
    let arg_types: Vec<&Type> = inputs.iter().map(|i| &i.ty).collect();
    let body_params = item.sig.inputs.iter();
    let body_params_call = item.sig.inputs.iter();

    let enable_cache = args.enable_cache.unwrap_or(true);
    let retries = args.retries.unwrap_or(0);
    let output_kind = match args.output_kind.as_deref() {
        Some("model") => quote!(::weir::__private::ArtifactKind::Model),
        Some("deployment") => quote!(::weir::__private::ArtifactKind::Deployment),
        _ => quote!(::weir::__private::ArtifactKind::Data),
    };
    let timeout = match args.timeout_secs {
        Some(secs) => quote!(::core::option::Option::Some(#secs)),
        None => quote!(::core::option::Option::None),
    };
    let type_texts: Vec<String> = arg_types
        .iter()
        .map(|t| quote!(#t).to_string().replace(' ', ""))
        .collect();
    let output_type_texts: Vec<String> = output_types
        .iter()
        .map(|t| quote!(#t).to_string().replace(' ', ""))
        .collect();

    // In the step's process: read the inputs, run the body, write the outputs.
    let value = if fallible {
        quote!(::weir::__private::ok(#body_fn(#(#arg_idents),*))?)
    } else {
        quote!(#body_fn(#(#arg_idents),*))
    };
    let write_outputs = if output_types.is_empty() {
        quote!(let () = __weir_value;)
    } else if is_tuple {
        let parts: Vec<Ident> = (0..output_types.len())
            .map(|i| format_ident!("__weir_output_{}", i))
            .collect();
        quote! {
            let (#(#parts,)*) = __weir_value;
            #( __weir_io.output(#output_names, &#parts, (&&::weir::__private::Probe::<#output_types>::new()).codec())?; )*
        }
    } else {
        let ty = &output_types[0];
        let name = &output_names[0];
        quote! {
            __weir_io.output(#name, &__weir_value, (&&::weir::__private::Probe::<#ty>::new()).codec())?;
        }
    };

    // In the pipeline: the handles of the outputs.
    let (handle_type, handle_value) = if output_types.is_empty() {
        (quote!(()), quote!(let _ = __weir_node;))
    } else if is_tuple {
        (
            quote!((#(::weir::Output<#output_types>,)*)),
            quote!((#(::weir::__private::output::<#output_types>(__weir_node, #output_names),)*)),
        )
    } else {
        let ty = &output_types[0];
        let name = &output_names[0];
        (
            quote!(::weir::Output<#ty>),
            quote!(::weir::__private::output::<#ty>(__weir_node, #name)),
        )
    };
    let call_doc =
        format!("Runs the body of step `{step_name}` directly, outside any pipeline (for tests).");
    let mod_doc = format!("Step `{step_name}`: its body, callable directly.");
    let body_args = inputs.iter().map(|i| &i.ident);

    Ok(quote! {
        #(#other_attrs)*
        #[doc(hidden)]
        #[allow(clippy::too_many_arguments)]
        fn #body_fn(#(#body_params),*) #output #block

        #[doc(hidden)]
        fn #run_fn(
            __weir_io: &mut ::weir::__private::StepIo,
        ) -> ::core::result::Result<(), ::weir::__private::StepFailure> {
            #[allow(unused_imports)]
            use ::weir::__private::{ViaMaterializer as _, ViaSerde as _};
            #( let #arg_idents: #arg_types = __weir_io.input(#arg_names, (&&::weir::__private::Probe::<#arg_types>::new()).codec())?; )*
            let __weir_value = #value;
            #write_outputs
            ::core::result::Result::Ok(())
        }

        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        static #def_static: ::weir::__private::StepDef = ::weir::__private::StepDef {
            name: #step_name,
            code_hash: #code_hash,
            enable_cache: #enable_cache,
            retries: #retries,
            timeout_secs: #timeout,
            inputs: &[#(::weir::__private::InputDef { name: #arg_names, type_name: #type_texts }),*],
            outputs: &[#(::weir::__private::OutputDef { name: #output_names, type_name: #output_type_texts }),*],
            output_kind: #output_kind,
            run: #run_fn,
        };

        #(#doc_attrs)*
        #[allow(clippy::too_many_arguments)]
        #vis fn #fn_name(#(#arg_idents: impl ::weir::IntoInput<#arg_types>),*) -> #handle_type {
            let __weir_node = ::weir::__private::add_step(
                &#def_static,
                ::std::vec![#((#arg_names, ::weir::IntoInput::<#arg_types>::binding(#arg_idents))),*],
            );
            #handle_value
        }

        #[doc = #mod_doc]
        #vis mod #fn_name {
            #[allow(unused_imports)]
            use super::*;

            #[doc = #call_doc]
            #[allow(clippy::too_many_arguments, private_interfaces, dead_code)]
            pub fn call(#(#body_params_call),*) #output {
                super::#body_fn(#(#body_args),*)
            }
        }
    })
}

#[derive(Default)]
struct PipelineArgs {
    name: Option<String>,
    description: Option<String>,
    model: Option<String>,
    model_version: Option<String>,
}

fn parse_pipeline_args(attr: TokenStream2) -> syn::Result<PipelineArgs> {
    let mut args = PipelineArgs::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            let lit: LitStr = meta.value()?.parse()?;
            check_pipeline_name(&lit.value(), lit.span())?;
            args.name = Some(lit.value());
        } else if meta.path.is_ident("description") {
            args.description = Some(meta.value()?.parse::<LitStr>()?.value());
        } else if meta.path.is_ident("model") {
            let lit: LitStr = meta.value()?.parse()?;
            check_pipeline_name(&lit.value(), lit.span())?;
            args.model = Some(lit.value());
        } else if meta.path.is_ident("model_version") {
            let lit: LitStr = meta.value()?.parse()?;
            check_pipeline_name(&lit.value(), lit.span())?;
            args.model_version = Some(lit.value());
        } else {
            return Err(meta.error(
                "unknown pipeline setting: expected name, description, model or model_version",
            ));
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(args)
}

/// Pipeline names: 1 to 63 letters, digits, `-` and `_`, starting with a letter or digit.
fn check_pipeline_name(name: &str, span: Span) -> syn::Result<()> {
    let valid = (1..=63).contains(&name.len())
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(syn::Error::new(
            span,
            format!(
                "`{name}` cannot be a pipeline name: 1 to 63 letters, digits, '-' and '_', \
                 starting with a letter or digit"
            ),
        ))
    }
}

fn expand_pipeline(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let args = parse_pipeline_args(attr)?;
    let mut item: ItemFn = syn::parse2(item)?;
    let sig = &item.sig;
    if sig.asyncness.is_some() || !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.span(),
            "a pipeline is a plain function that calls steps",
        ));
    }
    if !matches!(&sig.output, ReturnType::Default)
        && !matches!(&sig.output, ReturnType::Type(_, ty) if is_unit(ty))
    {
        return Err(syn::Error::new(
            sig.output.span(),
            "a pipeline returns nothing: its steps' outputs are stored as artifacts",
        ));
    }
    let fn_name = sig.ident.clone();
    let name = match &args.name {
        Some(name) => name.clone(),
        None => {
            let name = fn_name.to_string();
            check_pipeline_name(&name, fn_name.span())?;
            name
        }
    };
    let mut param_idents = Vec::new();
    let mut param_names = Vec::new();
    let mut param_types = Vec::new();
    let mut defaults = Vec::new();
    for arg in item.sig.inputs.iter_mut() {
        let FnArg::Typed(typed) = arg else {
            return Err(syn::Error::new(
                arg.span(),
                "a pipeline is a free function: it cannot take `self`",
            ));
        };
        let Pat::Ident(pat) = typed.pat.as_ref() else {
            return Err(syn::Error::new(
                typed.pat.span(),
                "pipeline parameters are plain names",
            ));
        };
        let pname = pat.ident.to_string();
        check_identifier(&pname, pat.ident.span(), "a parameter name")?;
        let mut default = None;
        let mut kept = Vec::new();
        for attr in typed.attrs.drain(..) {
            if attr.path().is_ident("default") {
                if default.is_some() {
                    return Err(syn::Error::new(
                        attr.span(),
                        "one #[default(…)] per parameter",
                    ));
                }
                default = Some(attr.parse_args::<Expr>()?);
            } else {
                kept.push(attr);
            }
        }
        if let Some(attr) = kept.first() {
            return Err(syn::Error::new(
                attr.span(),
                "pipeline parameters take only #[default(value)]",
            ));
        }
        param_idents.push(pat.ident.clone());
        param_names.push(pname);
        let ty = (*typed.ty).clone();
        defaults.push(match default {
            Some(expr) => quote!(::core::option::Option::Some({
                let __weir_default: #ty = #expr;
                ::weir::__private::default_json(&__weir_default)
            })),
            None => quote!(::core::option::Option::None),
        });
        param_types.push(ty);
    }
    let (doc_attrs, _) = split_docs(&item.attrs);
    let description = args
        .description
        .clone()
        .unwrap_or_else(|| doc_text(&doc_attrs));
    if args.model_version.is_some() && args.model.is_none() {
        return Err(syn::Error::new(
            Span::call_site(),
            "model_version needs model = \"…\"",
        ));
    }
    let model = match &args.model {
        Some(model) => {
            let version = args.model_version.as_deref().unwrap_or("new");
            quote!(::core::option::Option::Some((#model, #version)))
        }
        None => quote!(::core::option::Option::None),
    };
    let vis = &item.vis;
    let stmts = &item.block.stmts;
    Ok(quote! {
        #(#doc_attrs)*
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #fn_name;

        impl ::weir::Pipeline for #fn_name {
            fn name(&self) -> &'static str {
                #name
            }

            fn description(&self) -> &'static str {
                #description
            }

            fn model(&self) -> ::core::option::Option<(&'static str, &'static str)> {
                #model
            }

            fn parameters(&self) -> ::std::vec::Vec<::weir::__private::ParamDef> {
                ::std::vec![#(::weir::__private::param_def::<#param_types>(#param_names, #defaults)),*]
            }

            #[allow(unused_variables, clippy::let_unit_value)]
            fn build(&self) {
                #( let #param_idents = ::weir::__private::param::<#param_types>(#param_names); )*
                #(#stmts)*
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_durations() {
        assert_eq!(timeout_secs("90s"), Some(90));
        assert_eq!(timeout_secs("10m"), Some(600));
        assert_eq!(timeout_secs("2h"), Some(7200));
        assert_eq!(timeout_secs("1d"), Some(86_400));
        assert_eq!(timeout_secs("300"), Some(300));
        assert_eq!(timeout_secs("ten minutes"), None);
        assert_eq!(timeout_secs("5w"), None);
    }

    #[test]
    fn step_names_follow_the_server_grammar() {
        assert!(check_identifier("train_2", Span::call_site(), "x").is_ok());
        assert!(check_identifier("Train", Span::call_site(), "x").is_err());
        assert!(check_identifier("_data", Span::call_site(), "x").is_err());
        assert!(check_pipeline_name("iris-pipeline", Span::call_site()).is_ok());
        assert!(check_pipeline_name("-iris", Span::call_site()).is_err());
    }

    #[test]
    fn a_step_expands_to_its_pieces_and_a_changed_body_changes_the_hash() {
        let expand = |body: TokenStream2| {
            expand_step(
                quote!(retries = 2, timeout = "10m"),
                quote!(fn train(data: Dataset, lr: f64) -> Result<Model, String> #body),
            )
            .expect("expands")
            .to_string()
        };
        let one = expand(quote!({ fit(data, lr) }));
        assert!(one.contains("fn __weir_body_train"), "{one}");
        assert!(one.contains("static __weir_step_train"), "{one}");
        assert!(one.contains("retries : 2u32"), "{one}");
        assert!(one.contains("Some (600u64)"), "{one}");
        assert!(one.contains("mod train"), "{one}");
        let hash = |text: &str| {
            let at = text.find("sha256:").expect("hash");
            text[at..at + 71].to_string()
        };
        let two = expand(quote!({ fit(data, lr * 2.0) }));
        assert_ne!(hash(&one), hash(&two));
        assert_eq!(hash(&one), hash(&expand(quote!({ fit(data, lr) }))));
    }

    #[test]
    fn bad_settings_are_compile_errors_naming_the_problem() {
        let error = |attr: TokenStream2, item: TokenStream2| {
            expand_step(attr, item)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let item = quote!(
            fn train(x: f64) -> f64 {
                x
            }
        );
        assert!(error(quote!(retries = 11), item.clone()).contains("at most 10"));
        assert!(error(quote!(timeout = "soon"), item.clone()).contains("not a duration"));
        assert!(error(quote!(cache = false), item.clone()).contains("unknown step setting"));
        assert!(error(quote!(outputs(a, b)), item.clone()).contains("names 2 output(s)"));
        assert!(
            error(
                quote!(),
                quote!(
                    fn Train(x: f64) -> f64 {
                        x
                    }
                )
            )
            .contains("cannot be a step name")
        );
        assert!(
            error(
                quote!(),
                quote!(
                    fn t(x: &str) {}
                )
            )
            .contains("owned values")
        );
        assert!(
            error(
                quote!(),
                quote!(
                    fn t<T>(x: T) {}
                )
            )
            .contains("cannot be generic")
        );
        assert!(
            error(
                quote!(),
                quote!(
                    async fn t() {}
                )
            )
            .contains("synchronous")
        );
    }
}
