//! Pan and zoom over the run's graph, in the hydrated page only: the graph stays the
//! SVG the server drew; this moves and scales the element holding it with a CSS
//! transform (set through the style object, which the content security policy allows).
//! Dragging pans, the wheel pans and Ctrl+wheel (a pinch) zooms around the pointer,
//! the arrow keys pan, `+` and `-` zoom, `0` fits the graph to the frame. Without
//! JavaScript the frame scrolls instead.

#[cfg(feature = "hydrate")]
pub use dom::{PanZoom, attach};

/// What the page holds to move its graph: the hydrated page's [`PanZoom`]; nothing on
/// the server.
#[cfg(feature = "hydrate")]
pub type Handle = send_wrapper::SendWrapper<std::rc::Rc<PanZoom>>;
#[cfg(not(feature = "hydrate"))]
pub type Handle = ();

/// Carries out a button's `action` on the graph `handle` moves.
pub fn act(handle: &Handle, action: Action) {
    #[cfg(feature = "hydrate")]
    handle.act(action);
    #[cfg(not(feature = "hydrate"))]
    let _ = (handle, action);
}

/// Where the graph is: `x`, `y` of its top-left corner in the frame, and its scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub x: f64,
    pub y: f64,
    pub scale: f64,
}

/// What a button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Fit,
    ZoomIn,
    ZoomOut,
    ActualSize,
}

const MAX_SCALE: f64 = 4.0;

/// The view that shows all of a `width` × `height` graph in a `frame` (width, height),
/// never enlarged.
pub fn fit(width: f64, height: f64, frame: (f64, f64)) -> View {
    let pad = 8.0;
    let scale = ((frame.0 - 2.0 * pad) / width)
        .min((frame.1 - 2.0 * pad) / height)
        .clamp(0.01, 1.0);
    View {
        x: ((frame.0 - width * scale) / 2.0).max(pad),
        y: ((frame.1 - height * scale) / 2.0).max(pad),
        scale,
    }
}

/// `view` zoomed by `factor` around the frame point `(px, py)`, within `min`..MAX.
pub fn zoom_at(view: View, factor: f64, px: f64, py: f64, min: f64) -> View {
    let scale = (view.scale * factor).clamp(min, MAX_SCALE);
    let ratio = scale / view.scale;
    View {
        x: px - (px - view.x) * ratio,
        y: py - (py - view.y) * ratio,
        scale,
    }
}

/// The view that puts the graph point `(gx, gy)` in the middle of the frame at `scale`.
pub fn centre_on(gx: f64, gy: f64, scale: f64, frame: (f64, f64)) -> View {
    View {
        x: frame.0 / 2.0 - gx * scale,
        y: frame.1 / 2.0 - gy * scale,
        scale,
    }
}

#[cfg(feature = "hydrate")]
mod dom {
    use std::cell::Cell;
    use std::rc::Rc;

    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{AddEventListenerOptions, HtmlElement, KeyboardEvent, PointerEvent, WheelEvent};

    use super::{Action, View, centre_on, fit, zoom_at};

    type Listener = (&'static str, Closure<dyn FnMut(web_sys::Event)>);
    /// A drag under way: where the pointer went down, the view then, and whether it
    /// has moved enough to be a drag rather than a click.
    type Drag = Rc<Cell<Option<(f64, f64, View, bool)>>>;

    /// A graph in its frame, with the listeners that move it.
    pub struct PanZoom {
        frame: HtmlElement,
        canvas: HtmlElement,
        width: f64,
        height: f64,
        view: Cell<View>,
        /// Called with each new view (the page keeps it across live updates).
        on_change: Box<dyn Fn(View)>,
        listeners: std::cell::RefCell<Vec<Listener>>,
    }

    impl PanZoom {
        fn frame_size(&self) -> (f64, f64) {
            (
                f64::from(self.frame.client_width()),
                f64::from(self.frame.client_height()),
            )
        }

        fn min_scale(&self) -> f64 {
            fit(self.width, self.height, self.frame_size())
                .scale
                .min(0.5)
        }

        fn set(&self, view: View) {
            self.view.set(view);
            let _ = self.canvas.style().set_property(
                "transform",
                &format!(
                    "translate({:.1}px, {:.1}px) scale({:.4})",
                    view.x, view.y, view.scale
                ),
            );
            (self.on_change)(view);
        }

        pub fn act(&self, action: Action) {
            let frame = self.frame_size();
            let view = self.view.get();
            let (cx, cy) = (frame.0 / 2.0, frame.1 / 2.0);
            let next = match action {
                Action::Fit => fit(self.width, self.height, frame),
                Action::ZoomIn => zoom_at(view, 1.25, cx, cy, self.min_scale()),
                Action::ZoomOut => zoom_at(view, 0.8, cx, cy, self.min_scale()),
                Action::ActualSize => zoom_at(view, 1.0 / view.scale, cx, cy, self.min_scale()),
            };
            self.set(next);
        }

        /// The centre of the selected step in graph coordinates, read from its drawing.
        fn selected_centre(&self) -> Option<(f64, f64)> {
            let node = self
                .canvas
                .query_selector(".dag-step.selected rect")
                .ok()??;
            let rect = node.get_bounding_client_rect();
            let canvas = self.canvas.get_bounding_client_rect();
            let scale = self.view.get().scale;
            Some((
                (rect.x() + rect.width() / 2.0 - canvas.x()) / scale,
                (rect.y() + rect.height() / 2.0 - canvas.y()) / scale,
            ))
        }

        fn listen(
            self: &Rc<Self>,
            target: &HtmlElement,
            name: &'static str,
            handler: impl FnMut(web_sys::Event) + 'static,
        ) {
            let closure = Closure::<dyn FnMut(web_sys::Event)>::new(handler);
            let options = AddEventListenerOptions::new();
            options.set_passive(false);
            let _ = target.add_event_listener_with_callback_and_add_event_listener_options(
                name,
                closure.as_ref().unchecked_ref(),
                &options,
            );
            self.listeners.borrow_mut().push((name, closure));
        }

        /// Removes the listeners (when the page goes).
        pub fn detach(&self) {
            for (name, closure) in self.listeners.borrow_mut().drain(..) {
                let _ = self
                    .frame
                    .remove_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
            }
        }
    }

    /// Makes `frame` (holding `canvas`, holding the SVG of a `width` × `height` graph) pan
    /// and zoom. The first view is `kept` when the page had one for this graph; else the
    /// selected step at full size in the middle; else the whole graph, if it does not fit.
    pub fn attach(
        frame: HtmlElement,
        canvas: HtmlElement,
        width: f64,
        height: f64,
        kept: Option<View>,
        on_change: impl Fn(View) + 'static,
    ) -> Rc<PanZoom> {
        let _ = frame.class_list().add_1("pannable");
        // As tall as the graph, up to most of the window.
        let _ = frame
            .style()
            .set_property("height", &format!("min(70vh, {:.0}px)", height + 16.0));
        let pz = Rc::new(PanZoom {
            frame: frame.clone(),
            canvas,
            width,
            height,
            view: Cell::new(View {
                x: 0.0,
                y: 0.0,
                scale: 1.0,
            }),
            on_change: Box::new(on_change),
            listeners: Default::default(),
        });
        pz.set(View {
            x: 0.0,
            y: 0.0,
            scale: 1.0,
        });
        // The first view needs the frame's size: after the browser has laid the page
        // out (a page rendered in the browser is not laid out yet at this point).
        let place = {
            let pz = pz.clone();
            move || {
                let frame_size = pz.frame_size();
                let first = kept.unwrap_or_else(|| match pz.selected_centre() {
                    Some((gx, gy)) => centre_on(gx, gy, 1.0, frame_size),
                    None if width > frame_size.0 || height > frame_size.1 => {
                        fit(width, height, frame_size)
                    }
                    None => View {
                        x: 0.0,
                        y: 0.0,
                        scale: 1.0,
                    },
                });
                pz.set(first);
            }
        };
        if frame.client_width() > 0 {
            place();
        } else if let Some(window) = web_sys::window() {
            let callback = Closure::once_into_js(place);
            let _ = window.request_animation_frame(callback.unchecked_ref());
        }

        // Wheel: pan; with Ctrl (and a trackpad's pinch): zoom around the pointer.
        {
            let this = pz.clone();
            pz.listen(&frame, "wheel", move |event| {
                let Some(event) = event.dyn_ref::<WheelEvent>() else {
                    return;
                };
                event.prevent_default();
                let view = this.view.get();
                if event.ctrl_key() || event.meta_key() {
                    let rect = this.frame.get_bounding_client_rect();
                    let (px, py) = (
                        f64::from(event.client_x()) - rect.x(),
                        f64::from(event.client_y()) - rect.y(),
                    );
                    let factor = (-event.delta_y() * 0.0025).exp();
                    this.set(zoom_at(view, factor, px, py, this.min_scale()));
                } else {
                    this.set(View {
                        x: view.x - event.delta_x(),
                        y: view.y - event.delta_y(),
                        ..view
                    });
                }
            });
        }
        // Dragging pans; a drag that moved does not also follow the link it started on.
        let drag: Drag = Rc::new(Cell::new(None));
        {
            let (this, drag) = (pz.clone(), drag.clone());
            pz.listen(&frame, "pointerdown", move |event| {
                let Some(event) = event.dyn_ref::<PointerEvent>() else {
                    return;
                };
                if event.button() != 0 {
                    return;
                }
                drag.set(Some((
                    f64::from(event.client_x()),
                    f64::from(event.client_y()),
                    this.view.get(),
                    false,
                )));
            });
        }
        {
            let (this, drag) = (pz.clone(), drag.clone());
            pz.listen(&frame, "pointermove", move |event| {
                let (Some(event), Some((x0, y0, start, moved))) =
                    (event.dyn_ref::<PointerEvent>(), drag.get())
                else {
                    return;
                };
                let (dx, dy) = (
                    f64::from(event.client_x()) - x0,
                    f64::from(event.client_y()) - y0,
                );
                let moved = moved || dx.abs() + dy.abs() > 4.0;
                if moved {
                    let _ = this.frame.class_list().add_1("dragging");
                    this.set(View {
                        x: start.x + dx,
                        y: start.y + dy,
                        ..start
                    });
                }
                drag.set(Some((x0, y0, start, moved)));
            });
        }
        for name in ["pointerup", "pointercancel", "pointerleave"] {
            let (this, drag) = (pz.clone(), drag.clone());
            pz.listen(&frame, name, move |_| {
                if let Some((x0, y0, start, true)) = drag.get() {
                    // Kept until the click that follows is swallowed.
                    drag.set(Some((x0, y0, start, true)));
                    let drag = drag.clone();
                    let this = this.clone();
                    let clear = Closure::once_into_js(move || {
                        drag.set(None);
                        let _ = this.frame.class_list().remove_1("dragging");
                    });
                    if let Some(window) = web_sys::window() {
                        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                            clear.unchecked_ref(),
                            0,
                        );
                    }
                } else {
                    drag.set(None);
                }
            });
        }
        {
            let drag = drag.clone();
            pz.listen(&frame, "click", move |event| {
                if let Some((_, _, _, true)) = drag.get() {
                    event.prevent_default();
                    event.stop_propagation();
                }
            });
        }
        // Keys, when the frame has the focus.
        {
            let this = pz.clone();
            pz.listen(&frame, "keydown", move |event| {
                let Some(event) = event.dyn_ref::<KeyboardEvent>() else {
                    return;
                };
                let view = this.view.get();
                let step = 60.0;
                let next = match event.key().as_str() {
                    "ArrowLeft" => Some(View {
                        x: view.x + step,
                        ..view
                    }),
                    "ArrowRight" => Some(View {
                        x: view.x - step,
                        ..view
                    }),
                    "ArrowUp" => Some(View {
                        y: view.y + step,
                        ..view
                    }),
                    "ArrowDown" => Some(View {
                        y: view.y - step,
                        ..view
                    }),
                    "+" | "=" => {
                        this.act(Action::ZoomIn);
                        None
                    }
                    "-" => {
                        this.act(Action::ZoomOut);
                        None
                    }
                    "0" => {
                        this.act(Action::Fit);
                        None
                    }
                    _ => return,
                };
                event.prevent_default();
                if let Some(next) = next {
                    this.set(next);
                }
            });
        }
        pz
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_graph_is_fitted_and_a_small_one_never_enlarged() {
        let big = fit(30_000.0, 3_000.0, (1_000.0, 600.0));
        assert!(big.scale < 0.04 && big.scale > 0.03, "{big:?}");
        assert!(30_000.0 * big.scale <= 1_000.0);
        let small = fit(300.0, 100.0, (1_000.0, 600.0));
        assert_eq!(small.scale, 1.0);
        assert_eq!(small.x, 350.0);
    }

    #[test]
    fn zooming_keeps_the_point_under_the_pointer_in_place() {
        let view = View {
            x: 10.0,
            y: 20.0,
            scale: 1.0,
        };
        let zoomed = zoom_at(view, 2.0, 110.0, 70.0, 0.1);
        // The graph point under (110, 70) was (100, 50); it is still there.
        assert!((zoomed.x + 100.0 * zoomed.scale - 110.0).abs() < 1e-9);
        assert!((zoomed.y + 50.0 * zoomed.scale - 70.0).abs() < 1e-9);
        assert_eq!(zoom_at(view, 100.0, 0.0, 0.0, 0.1).scale, MAX_SCALE);
    }

    #[test]
    fn centring_puts_the_point_in_the_middle() {
        let view = centre_on(500.0, 300.0, 1.0, (800.0, 400.0));
        assert_eq!((view.x, view.y), (-100.0, -100.0));
    }
}
