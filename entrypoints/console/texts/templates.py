"""Spanish for the template catalogue: the list, a template with its preview, and the creation form."""

SPANISH = {
    # Navigation and the catalogue
    "Templates": "Plantillas",
    "New template": "Nueva plantilla",
    "Sync with providers": "Sincronizar con los proveedores",
    "Filter templates": "Filtrar plantillas",
    "Name": "Nombre",
    "Status at a provider": "Estado en un proveedor",
    "Any status": "Cualquier estado",
    "Filter": "Filtrar",
    "Show all": "Mostrar todas",
    "The tenant's templates, by name then language": "Las plantillas de la organización, por nombre e idioma",
    "Language": "Idioma",
    "Category": "Categoría",
    "Where it exists, and its status there": "Dónde existe, y su estado allí",
    "At no provider account": "En ninguna cuenta de proveedor",
    "Next page": "Página siguiente",
    "No template matches these filters.": "Ninguna plantilla coincide con estos filtros.",
    "No templates yet.": "Todavía no hay plantillas.",
    # Statuses, qualities, categories, kinds
    "Pending": "Pendiente",
    "Approved": "Aprobada",
    "Rejected": "Rechazada",
    "Paused": "En pausa",
    "Disabled": "Desactivada",
    "High": "Alta",
    "Medium": "Media",
    "Low": "Baja",
    "Unknown": "Desconocida",
    "Marketing": "Marketing",
    "Utility": "Utilidad",
    "Authentication": "Autenticación",
    "Sandbox": "Sandbox",
    "account %(id)s": "cuenta %(id)s",
    "Quality:": "Calidad:",
    "Reason:": "Motivo:",
    "Quick reply": "Respuesta rápida",
    "Link (URL)": "Enlace (URL)",
    "Phone call": "Llamada",
    "Copy code": "Copiar código",
    "Text": "Texto",
    "Image": "Imagen",
    "Video": "Vídeo",
    "Document": "Documento",
    # Notices after a form
    "The catalogue is in step with the providers.": "El catálogo está al día con los proveedores.",
    "Some provider accounts could not be reached: their templates were left as they were.": (
        "No se pudo contactar con algunas cuentas de proveedor: sus plantillas se dejaron como estaban."
    ),
    "The template was deleted at every provider account.": (
        "La plantilla se eliminó en todas las cuentas de proveedor."
    ),
    "The template was created. Providers that review templates show it as pending until they decide.": (
        "La plantilla se creó. Los proveedores que revisan plantillas la muestran como pendiente "
        "hasta que decidan."
    ),
    # One template
    "Created": "Creada",
    "Components": "Componentes",
    "Header": "Encabezado",
    "None": "Ninguno",
    "example:": "ejemplo:",
    "Body": "Cuerpo",
    "Footer": "Pie",
    "Buttons": "Botones",
    "Preview": "Vista previa",
    "The preview needs other values:": "La vista previa necesita otros valores:",
    "A value for each variable, as a send gives them.": "Un valor para cada variable, como los da un envío.",
    "This template has no variables.": "Esta plantilla no tiene variables.",
    "Show the preview": "Mostrar la vista previa",
    "As the customer sees it": "Como la ve el cliente",
    "Delete": "Eliminar",
    "Deleting removes the template at every provider account it is listed on, then from the catalogue. Messages already sent stay in the history.": (  # noqa: E501
        "Eliminarla la quita de todas las cuentas de proveedor donde está y después del catálogo. "
        "Los mensajes ya enviados siguen en el historial."
    ),
    "Delete this template at every provider": "Eliminar esta plantilla en todos los proveedores",
    # The creation form
    "The template was not created. Fix these and send it again:": (
        "La plantilla no se creó. Corrija lo siguiente y envíela de nuevo:"
    ),
    "The template": "La plantilla",
    "Lower-case letters, digits and underscores, such as order_shipped.": (
        "Letras minúsculas, dígitos y guiones bajos, como order_shipped."
    ),
    "WhatsApp's language code, such as en, en_US or pt_BR.": (
        "El código de idioma de WhatsApp, como en, en_US o pt_BR."
    ),
    "Header (optional)": "Encabezado (opcional)",
    "Kind of header": "Tipo de encabezado",
    "No header": "Sin encabezado",
    "Header text (a text header only; one variable at most)": (
        "Texto del encabezado (solo un encabezado de texto; una variable como mucho)"
    ),
    "Example file's URL (an image, video or document header only; https)": (
        "URL de un archivo de ejemplo (solo un encabezado de imagen, vídeo o documento; https)"
    ),
    "Variables are all numbered ({{1}}, {{2}} …) or all named ({{first_name}}); the body neither starts nor ends with one.": (  # noqa: E501
        "Las variables son todas numeradas ({{1}}, {{2}} …) o todas con nombre ({{first_name}}); "
        "el cuerpo no empieza ni termina con una."
    ),
    "Footer (optional)": "Pie (opcional)",
    "Buttons (optional)": "Botones (opcionales)",
    "The value is a link button's URL (its end may be a variable), a phone button's number (+ and digits), or a copy-code button's sample code; a quick reply has none.": (  # noqa: E501
        "El valor es la URL de un botón de enlace (su final puede ser una variable), el número de un botón "
        "de llamada (+ y dígitos) o el código de ejemplo de un botón de copiar código; una respuesta rápida "
        "no tiene."
    ),
    "Button %(n)s": "Botón %(n)s",
    "Kind": "Tipo",
    "No button": "Sin botón",
    "URL, phone number or sample code": "URL, número de teléfono o código de ejemplo",
    "Example values": "Valores de ejemplo",
    "One variable a line, written name=value: 1=Ana for {{1}}, or first_name=Ana for {{first_name}}. Providers review the template with them.": (  # noqa: E501
        "Una variable por línea, escrita nombre=valor: 1=Ana para {{1}}, o first_name=Ana para "
        "{{first_name}}. Los proveedores revisan la plantilla con ellos."
    ),
    "Create it on": "Crearla en",
    "Sandbox (approves at once; sends nowhere)": "Sandbox (aprueba al instante; no envía a ningún sitio)",
    "Create the template and ask for its approval": "Crear la plantilla y pedir su aprobación",
}
