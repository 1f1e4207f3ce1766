//! [`json!`](crate::json!): `serde_json::json!` syntax for [`Value`](super::Value).

/// A [`json::Value`](crate::json::Value) from JSON-like syntax, as
/// `serde_json::json!`: `json!({ "code": code, "coding": [{ "system": s }] })`.
/// Keys must be string literals; other values are expressions converted with
/// `Value::from` (moved, not borrowed as `serde_json::json!` does).
#[macro_export]
macro_rules! json {
    ($($json:tt)+) => {
        $crate::__json_internal!($($json)+)
    };
}

/// The token muncher behind [`json!`], after `serde_json`'s.
#[macro_export]
#[doc(hidden)]
macro_rules! __json_internal {
    // Arrays: elements parsed one by one into a list of expressions.
    (@array [$($elems:expr,)*]) => {
        ::std::vec![$($elems,)*]
    };
    (@array [$($elems:expr),*]) => {
        ::std::vec![$($elems),*]
    };
    (@array [$($elems:expr,)*] null $($rest:tt)*) => {
        $crate::__json_internal!(@array [$($elems,)* $crate::__json_internal!(null)] $($rest)*)
    };
    (@array [$($elems:expr,)*] true $($rest:tt)*) => {
        $crate::__json_internal!(@array [$($elems,)* $crate::__json_internal!(true)] $($rest)*)
    };
    (@array [$($elems:expr,)*] false $($rest:tt)*) => {
        $crate::__json_internal!(@array [$($elems,)* $crate::__json_internal!(false)] $($rest)*)
    };
    (@array [$($elems:expr,)*] [$($array:tt)*] $($rest:tt)*) => {
        $crate::__json_internal!(@array [$($elems,)* $crate::__json_internal!([$($array)*])] $($rest)*)
    };
    (@array [$($elems:expr,)*] {$($map:tt)*} $($rest:tt)*) => {
        $crate::__json_internal!(@array [$($elems,)* $crate::__json_internal!({$($map)*})] $($rest)*)
    };
    (@array [$($elems:expr,)*] $next:expr, $($rest:tt)*) => {
        $crate::__json_internal!(@array [$($elems,)* $crate::__json_internal!($next),] $($rest)*)
    };
    (@array [$($elems:expr,)*] $last:expr) => {
        $crate::__json_internal!(@array [$($elems,)* $crate::__json_internal!($last)])
    };
    (@array [$($elems:expr),*] , $($rest:tt)*) => {
        $crate::__json_internal!(@array [$($elems,)*] $($rest)*)
    };

    // Objects: the members parsed so far, then the tokens left.
    (@object [$($done:expr,)*] ()) => {
        ::std::vec![$($done,)*]
    };
    (@object [$($done:expr,)*] ($key:literal : null $(, $($rest:tt)*)?)) => {
        $crate::__json_internal!(@object [$($done,)* ($key, $crate::__json_internal!(null)),] ($($($rest)*)?))
    };
    (@object [$($done:expr,)*] ($key:literal : true $(, $($rest:tt)*)?)) => {
        $crate::__json_internal!(@object [$($done,)* ($key, $crate::__json_internal!(true)),] ($($($rest)*)?))
    };
    (@object [$($done:expr,)*] ($key:literal : false $(, $($rest:tt)*)?)) => {
        $crate::__json_internal!(@object [$($done,)* ($key, $crate::__json_internal!(false)),] ($($($rest)*)?))
    };
    (@object [$($done:expr,)*] ($key:literal : [$($array:tt)*] $(, $($rest:tt)*)?)) => {
        $crate::__json_internal!(@object [$($done,)* ($key, $crate::__json_internal!([$($array)*])),] ($($($rest)*)?))
    };
    (@object [$($done:expr,)*] ($key:literal : {$($map:tt)*} $(, $($rest:tt)*)?)) => {
        $crate::__json_internal!(@object [$($done,)* ($key, $crate::__json_internal!({$($map)*})),] ($($($rest)*)?))
    };
    (@object [$($done:expr,)*] ($key:literal : $value:expr $(, $($rest:tt)*)?)) => {
        $crate::__json_internal!(@object [$($done,)* ($key, $crate::__json_internal!($value)),] ($($($rest)*)?))
    };

    // Values.
    (null) => {
        $crate::json::Value::Null
    };
    (true) => {
        $crate::json::Value::Bool(true)
    };
    (false) => {
        $crate::json::Value::Bool(false)
    };
    ([]) => {
        $crate::json::Value::Array(::std::vec::Vec::new())
    };
    ([ $($tt:tt)+ ]) => {
        $crate::json::Value::Array($crate::__json_internal!(@array [] $($tt)+))
    };
    ({}) => {
        $crate::json::Value::Object($crate::json::Object::default())
    };
    ({ $($tt:tt)+ }) => {
        $crate::json::Value::Object($crate::json::Object::from_members(
            $crate::__json_internal!(@object [] ($($tt)+)),
        ))
    };
    ($other:expr) => {
        $crate::json::Value::from($other)
    };
}
