//! Reading what the planner needs out of the ONNX protobuf: attributes, constant tensors and the
//! declared input shapes.

use tract_onnx::pb::{AttributeProto, NodeProto, TensorProto, ValueInfoProto};

/// A constant tensor of the graph (an initializer or a `Constant` node's value).
#[derive(Clone, Debug)]
pub(super) enum Const {
    Floats { shape: Vec<usize>, data: Vec<f32> },
    Ints { shape: Vec<usize>, data: Vec<i64> },
}

fn shape_of(t: &TensorProto) -> Result<Vec<usize>, String> {
    t.dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("tensor `{}`: dimension {d}", t.name)))
        .collect()
}

/// Decodes a float (1), int32 (6) or int64 (7) tensor, raw or typed; other types are refused.
pub(super) fn decode_tensor(t: &TensorProto) -> Result<Const, String> {
    if !t.external_data.is_empty() || t.data_location == Some(1) {
        return Err(format!(
            "tensor `{}` keeps its data outside the file",
            t.name
        ));
    }
    let shape = shape_of(t)?;
    let len: usize = shape.iter().product();
    let check = |n: usize| {
        if n == len {
            Ok(())
        } else {
            Err(format!(
                "tensor `{}`: {n} values for shape {shape:?}",
                t.name
            ))
        }
    };
    match t.data_type {
        1 => {
            let data: Vec<f32> = if t.raw_data.is_empty() {
                t.float_data.clone()
            } else {
                t.raw_data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            };
            check(data.len())?;
            Ok(Const::Floats { shape, data })
        }
        6 | 7 => {
            let data: Vec<i64> = if !t.raw_data.is_empty() {
                if t.data_type == 7 {
                    t.raw_data
                        .chunks_exact(8)
                        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
                        .collect()
                } else {
                    t.raw_data
                        .chunks_exact(4)
                        .map(|b| i32::from_le_bytes(b.try_into().unwrap()) as i64)
                        .collect()
                }
            } else if t.data_type == 7 {
                t.int64_data.clone()
            } else {
                t.int32_data.iter().map(|&v| v as i64).collect()
            };
            check(data.len())?;
            Ok(Const::Ints { shape, data })
        }
        dt => Err(format!(
            "tensor `{}`: ONNX data type {dt} is not supported",
            t.name
        )),
    }
}

pub(super) fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

pub(super) fn attr_i(n: &NodeProto, name: &str) -> Option<i64> {
    attr(n, name).map(|a| a.i)
}

pub(super) fn attr_f(n: &NodeProto, name: &str) -> Option<f32> {
    attr(n, name).map(|a| a.f)
}

pub(super) fn attr_ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}

pub(super) fn attr_s(n: &NodeProto, name: &str) -> Option<String> {
    attr(n, name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

/// The declared fixed dimensions of a graph input (None where symbolic or missing).
pub(super) fn declared_dims(v: &ValueInfoProto) -> Vec<Option<i64>> {
    use tract_onnx::pb::tensor_shape_proto::dimension::Value as D;
    use tract_onnx::pb::type_proto::Value as T;
    match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(T::TensorType(t)) => t
            .shape
            .as_ref()
            .map(|s| {
                s.dim
                    .iter()
                    .map(|d| match d.value {
                        Some(D::DimValue(v)) => Some(v),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => vec![],
    }
}
