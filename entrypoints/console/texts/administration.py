"""Spanish for the tenant's administration: users, senders, provider accounts, API keys, webhooks,
limits and the audit log."""

# ruff: noqa: E501 - each English key is written as the template writes it, on one line, so it can be found

SPANISH = {
    # Section and index
    "Administration": "Administración",
    "Users": "Usuarios",
    "Senders": "Remitentes",
    "Provider accounts": "Cuentas de proveedor",
    "API keys": "Claves de API",
    "Webhooks": "Webhooks",
    "Limits": "Límites",
    "Audit log": "Registro de auditoría",
    "Who signs in, as an agent or a tenant admin.": "Quién inicia sesión, como agente o como administrador.",
    "The WhatsApp numbers the tenant sends from.": "Los números de WhatsApp desde los que envía la organización.",
    "The tenant's accounts at Twilio and Meta; their secrets are never shown.": (
        "Las cuentas de la organización en Twilio y Meta; sus secretos nunca se muestran."
    ),
    "Keys for the tenant's servers to call the API.": "Claves para que los servidores de la organización usen la API.",
    "Where the gateway tells your systems what happened, and its deliveries.": (
        "Dónde la pasarela avisa a sus sistemas de lo ocurrido, y sus entregas."
    ),
    "What the gateway lets the tenant send, and how fast.": "Cuánto y a qué ritmo deja enviar la pasarela a la organización.",
    "Who did what, from where, when.": "Quién hizo qué, desde dónde y cuándo.",
    # Shared
    "Actions": "Acciones",
    "Active": "Activo",
    "Agent": "Agente",
    "Tenant admin": "Administrador",
    "Any": "Cualquiera",
    "Change": "Cambiar",
    "Created": "Creado",
    "Delete": "Eliminar",
    "Description": "Descripción",
    "Label": "Etiqueta",
    "Name": "Nombre",
    "Never": "Nunca",
    "Newest": "Más recientes",
    "Remove": "Quitar",
    "Role": "Rol",
    "Status": "Estado",
    "Copy it now and keep it safe: it is shown this once and cannot be shown again.": (
        "Cópielo ahora y guárdelo en lugar seguro: se muestra esta única vez y no podrá volver a verse."
    ),
    # Users
    "The tenant's users": "Los usuarios de la organización",
    "you": "usted",
    "Deactivated": "Desactivado",
    "Change role": "Cambiar rol",
    "Deactivate": "Desactivar",
    "Reactivate": "Reactivar",
    "Another admin changes your role or deactivates you.": (
        "Otro administrador puede cambiar su rol o desactivarle."
    ),
    "New user": "Nuevo usuario",
    "8 to 256 characters. Give it to the user by a safe way.": (
        "De 8 a 256 caracteres. Hágasela llegar al usuario por una vía segura."
    ),
    "Create user": "Crear usuario",
    "The user was created.": "Se ha creado el usuario.",
    "The role was changed. The user signs in again.": "Se ha cambiado el rol. El usuario debe iniciar sesión de nuevo.",
    "The user was deactivated: they can no longer sign in.": "Se ha desactivado el usuario: ya no puede iniciar sesión.",
    "The user was reactivated.": "Se ha reactivado el usuario.",
    # Senders
    "Default": "Predeterminado",
    "Account:": "Cuenta:",
    "The tenant's provider": "El proveedor de la organización",
    "Phone number": "Número de teléfono",
    "Phone number id at Meta": "Id. del número en Meta",
    "Make it the default sender": "Hacerlo el remitente predeterminado",
    "Move to": "Mover a",
    "Stay where it is": "Dejarlo donde está",
    "Save sender": "Guardar remitente",
    "Remove sender": "Quitar remitente",
    "No senders yet.": "Todavía no hay remitentes.",
    "New sender": "Nuevo remitente",
    "Provider account": "Cuenta de proveedor",
    "Only for a sender on a Meta account.": "Solo para un remitente en una cuenta de Meta.",
    "On the provider account chosen before.": "En la cuenta de proveedor elegida antes.",
    "Through the tenant's provider.": "A través del proveedor de la organización.",
    "Choose another account on the senders page.": "Elija otra cuenta en la página de remitentes.",
    "Add sender": "Añadir remitente",
    "The sender was added.": "Se ha añadido el remitente.",
    "The sender was changed.": "Se ha cambiado el remitente.",
    "The sender was removed.": "Se ha quitado el remitente.",
    # Provider accounts
    "The tenant's provider accounts": "Las cuentas de proveedor de la organización",
    "Provider": "Proveedor",
    "Ids": "Identificadores",
    "Added": "Añadida",
    "(no label)": "(sin etiqueta)",
    "No provider accounts yet: the tenant's senders send through its provider.": (
        "Todavía no hay cuentas de proveedor: los remitentes envían a través del proveedor de la organización."
    ),
    "New Twilio account": "Nueva cuenta de Twilio",
    "New Meta account": "Nueva cuenta de Meta",
    "Account SID": "SID de la cuenta",
    "Auth token": "Auth token",
    "API key SID": "SID de la clave de API",
    "API key SID (optional)": "SID de la clave de API (opcional)",
    "API key secret (optional)": "Secreto de la clave de API (opcional)",
    "WhatsApp Business Account id": "Id. de la cuenta de WhatsApp Business",
    "Access token": "Token de acceso",
    "App secret": "Secreto de la aplicación",
    "Webhook verify token": "Token de verificación del webhook",
    "Graph API version": "Versión de la Graph API",
    "Secrets are stored encrypted and never shown again.": (
        "Los secretos se guardan cifrados y no vuelven a mostrarse nunca."
    ),
    "Add Twilio account": "Añadir cuenta de Twilio",
    "Add Meta account": "Añadir cuenta de Meta",
    "All provider accounts": "Todas las cuentas de proveedor",
    "Rename": "Renombrar",
    "Save label": "Guardar etiqueta",
    "Replace credentials": "Sustituir credenciales",
    "Every secret is replaced (after rotating a token, say); the account's senders keep it.": (
        "Se sustituyen todos los secretos (tras renovar un token, por ejemplo); los remitentes de la cuenta la conservan."
    ),
    "Only an account no sender sends through can be removed: move or remove its senders first.": (
        "Solo se puede quitar una cuenta por la que no envía ningún remitente: mueva o quite antes sus remitentes."
    ),
    "Remove provider account": "Quitar cuenta de proveedor",
    "The provider account was added.": "Se ha añadido la cuenta de proveedor.",
    "The provider account was renamed.": "Se ha renombrado la cuenta de proveedor.",
    "The credentials were replaced.": "Se han sustituido las credenciales.",
    "The provider account was removed.": "Se ha quitado la cuenta de proveedor.",
    # API keys
    "API key created": "Clave de API creada",
    "The new key": "La nueva clave",
    "Send it as Authorization: Bearer followed by the key.": "Envíela como Authorization: Bearer seguido de la clave.",
    "The tenant's API keys": "Las claves de API de la organización",
    "Acts as": "Actúa como",
    "Prefix": "Prefijo",
    "Last used": "Último uso",
    "Revoked": "Revocada",
    "Revoke": "Revocar",
    "No API keys yet.": "Todavía no hay claves de API.",
    "New API key": "Nueva clave de API",
    "Which server or system uses it.": "Qué servidor o sistema la usa.",
    "Create API key": "Crear clave de API",
    "The API key was revoked: it no longer works.": "Se ha revocado la clave de API: ya no funciona.",
    # Webhooks
    "Enabled": "Activado",
    "Disabled": "Desactivado",
    "No webhook endpoints yet.": "Todavía no hay destinos de webhook.",
    "New webhook endpoint": "Nuevo destino de webhook",
    "URL": "URL",
    "Events": "Eventos",
    "The URL must reach a public address. The signing secret is shown once, after creating.": (
        "La URL debe llevar a una dirección pública. El secreto de firma se muestra una sola vez, al crearlo."
    ),
    "Create endpoint": "Crear destino",
    "Webhook endpoint": "Destino de webhook",
    "Webhook endpoint created": "Destino de webhook creado",
    "All webhook endpoints": "Todos los destinos de webhook",
    "Disabled by the gateway:": "Desactivado por la pasarela:",
    "Recent deliveries": "Entregas recientes",
    "State": "Estado",
    "Pending": "Pendiente",
    "Delivered": "Entregada",
    "Dead": "Abandonada",
    "Show": "Mostrar",
    "The endpoint's deliveries, newest first": "Las entregas del destino, las más recientes primero",
    "Time": "Hora",
    "Event": "Evento",
    "Attempts": "Intentos",
    "Last answer": "Última respuesta",
    "Replay": "Reenviar",
    "No deliveries.": "No hay entregas.",
    "Older deliveries": "Entregas anteriores",
    "Save endpoint": "Guardar destino",
    "Signing secret": "Secreto de firma",
    "The signing secret": "El secreto de firma",
    "Signing secret rotated": "Secreto de firma renovado",
    "A new secret is shown once. The replaced one keeps signing deliveries for a while, so your system can switch at its own pace.": (
        "El secreto nuevo se muestra una sola vez. El sustituido sigue firmando las entregas durante un tiempo, "
        "para que su sistema pueda cambiar a su ritmo."
    ),
    "The replaced secret signs deliveries until %(moment)s (UTC).": (
        "El secreto sustituido firma las entregas hasta el %(moment)s (UTC)."
    ),
    "Deliveries are signed with the replaced secret too until %(moment)s (UTC), so your system can switch at its own pace.": (
        "Las entregas se firman también con el secreto sustituido hasta el %(moment)s (UTC), para que su sistema "
        "pueda cambiar a su ritmo."
    ),
    "Go to the endpoint": "Ir al destino",
    "Rotate secret": "Renovar secreto",
    "Delete endpoint and its deliveries": "Eliminar el destino y sus entregas",
    "The endpoint was changed.": "Se ha cambiado el destino.",
    "The endpoint was deleted, with its deliveries.": "Se ha eliminado el destino, con sus entregas.",
    "The delivery will be sent again within a few seconds.": "La entrega se enviará de nuevo en unos segundos.",
    # Limits
    "What the gateway holds the tenant to. The platform's administrators set the send limits; the others are the gateway's settings, the same for every tenant.": (
        "Los límites que la pasarela aplica a la organización. Los administradores de la plataforma fijan los "
        "límites de envío; los demás son ajustes de la pasarela, iguales para todas las organizaciones."
    ),
    "The tenant's limits": "Los límites de la organización",
    "Limit": "Límite",
    "Value": "Valor",
    "What it means": "Qué significa",
    "Messages sent per minute": "Mensajes enviados por minuto",
    "Messages sent per day": "Mensajes enviados por día",
    "No limit": "Sin límite",
    "set for this tenant": "fijado para esta organización",
    "the gateway's default": "el valor predeterminado de la pasarela",
    "Each message handed to a provider counts, retries too. Beyond it, sends are refused (HTTP 429) until the window moves on.": (
        "Cuenta cada mensaje entregado a un proveedor, también los reintentos. Por encima, los envíos se "
        "rechazan (HTTP 429) hasta que avanza la ventana."
    ),
    "Messages being sent at once": "Mensajes enviándose a la vez",
    "More wait their turn in the queue; none is refused.": "Los demás esperan su turno en la cola; no se rechaza ninguno.",
    "Messages per second from each sender": "Mensajes por segundo de cada remitente",
    "Each WhatsApp number's pace; faster sends wait.": "El ritmo de cada número de WhatsApp; los envíos más rápidos esperan.",
    "Webhook endpoints": "Destinos de webhook",
    "At most, per tenant.": "Como máximo, por organización.",
    "API requests per minute from one address": "Peticiones a la API por minuto desde una dirección",
    "Counted per client address, whichever tenant the requests are for.": (
        "Se cuentan por dirección del cliente, sea cual sea la organización de las peticiones."
    ),
    "Failed sign-ins per minute": "Inicios de sesión fallidos por minuto",
    "From one address, and for one username from that address.": (
        "Desde una dirección, y para un usuario desde esa dirección."
    ),
    "24-hour session window": "Ventana de sesión de 24 horas",
    "Checked": "Se comprueba",
    "Not checked": "No se comprueba",
    "When checked, a free-form message to a contact who has not written in the last 24 hours is refused: send a template instead.": (
        "Si se comprueba, se rechaza un mensaje libre a un contacto que no ha escrito en las últimas 24 horas: "
        "envíe una plantilla en su lugar."
    ),
    # Audit log
    "Action": "Acción",
    "Actor id": "Id. del autor",
    "From (UTC)": "Desde (UTC)",
    "Until (UTC)": "Hasta (UTC)",
    "Filter": "Filtrar",
    "Clear filters": "Quitar filtros",
    "The tenant's audit trail, newest first": "El registro de auditoría de la organización, lo más reciente primero",
    "Time (UTC)": "Hora (UTC)",
    "Actor": "Autor",
    "Target": "Objeto",
    "Client address": "Dirección del cliente",
    "Details": "Detalles",
    "No entries.": "No hay entradas.",
    "Older entries": "Entradas anteriores",
}
