//! Properties read when an element starts: a change once it runs would silently do nothing, so
//! both elements refuse it with a logged and posted warning.

use gst::prelude::*;

/// Whether a change of `property` on `element` must be refused because the element is past
/// READY; if so, says so in the log (category `cat`) and on the bus. Call it before taking any
/// lock of the element: it posts a message.
pub fn refuse_while_running(
    element: &gst::Element,
    cat: gst::DebugCategory,
    property: &str,
) -> bool {
    if element.current_state() <= gst::State::Ready {
        return false;
    }
    gst::warning!(
        cat,
        obj = element,
        "property `{property}` can only be changed in the NULL or READY state: ignored"
    );
    let name = element
        .factory()
        .map_or_else(|| element.name().to_string(), |f| f.name().to_string());
    let _ = element.post_message(
        gst::message::Warning::builder(
            gst::CoreError::StateChange,
            &format!(
                "{name}: property `{property}` can only be changed in the NULL or READY state; \
                 the change is ignored"
            ),
        )
        .src(element)
        .build(),
    );
    true
}
